package encoder

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// bertPipeline is Hugging Face tokenizers' BERT pipeline, ported: added
// (special) tokens matched in the raw text, BertNormalizer (clean_text,
// handle_chinese_chars, lowercase, strip_accents), BertPreTokenizer
// (whitespace, then punctuation isolated), WordPiece (greedy longest match
// first, [UNK] for a word it cannot cover or longer than
// max_input_chars_per_word characters), then [CLS] ... [SEP], truncated to max
// tokens. The character classes are not Go's unicode tables but tokenizers'
// own, read from tokenizers one code point at a time (berttables.go, written
// by tools/encoder/reference.py): sugarme/tokenizer's BertNormalizer differs
// (docs/encoder.md). It tokenizes lazily and stops once max tokens are
// reached, so a long text costs no more than its first max tokens.
type bertPipeline struct {
	vocab    map[string]int32 // pieces that start a word
	cont     map[string]int32 // continuation pieces, prefix removed
	maxStart int              // longest piece, bytes
	maxCont  int
	unk      int32
	cls, sep int32
	maxChars int // max_input_chars_per_word
	clean    bool
	chinese  bool
	lower    bool
	strip    bool
	// added tokens matched on the raw text (normalized: false), longest first
	added     []bertAdded
	addedByte [256]bool
	pieces    []string // id -> piece (TokenStrings)
}

type bertAdded struct {
	content string
	id      int32
}

// errNotBert says tokenizer.json is not the plain BERT pipeline; the caller
// then uses sugarme's whole pipeline.
var errNotBert = errors.New("not the BERT pipeline")

type bertDoc struct {
	AddedTokens []struct {
		ID         int32  `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		Lstrip     bool   `json:"lstrip"`
		Rstrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
	} `json:"added_tokens"`
	Normalizer *struct {
		Type               string `json:"type"`
		CleanText          *bool  `json:"clean_text"`
		HandleChineseChars *bool  `json:"handle_chinese_chars"`
		StripAccents       *bool  `json:"strip_accents"`
		Lowercase          *bool  `json:"lowercase"`
	} `json:"normalizer"`
	PreTokenizer *struct {
		Type string `json:"type"`
	} `json:"pre_tokenizer"`
	PostProcessor *struct {
		Type   string `json:"type"`
		Single []struct {
			SpecialToken *struct {
				ID     string `json:"id"`
				TypeID int    `json:"type_id"`
			} `json:"SpecialToken"`
			Sequence *struct {
				ID     string `json:"id"`
				TypeID int    `json:"type_id"`
			} `json:"Sequence"`
		} `json:"single"`
		SpecialTokens map[string]struct {
			IDs []int32 `json:"ids"`
		} `json:"special_tokens"`
		// BertProcessing
		Sep []json.RawMessage `json:"sep"`
		Cls []json.RawMessage `json:"cls"`
	} `json:"post_processor"`
	Model struct {
		Type                    string           `json:"type"`
		UnkToken                string           `json:"unk_token"`
		ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    *int             `json:"max_input_chars_per_word"`
		Vocab                   map[string]int32 `json:"vocab"`
	} `json:"model"`
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// newBertPipeline reads tokenizer.json; errNotBert when it holds anything but
// BertNormalizer, BertPreTokenizer, WordPiece and a [CLS] A [SEP] template.
func newBertPipeline(b []byte) (*bertPipeline, error) {
	var d bertDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	n, pt, pp, m := d.Normalizer, d.PreTokenizer, d.PostProcessor, d.Model
	if n == nil || n.Type != "BertNormalizer" || pt == nil || pt.Type != "BertPreTokenizer" ||
		m.Type != "WordPiece" || pp == nil || len(m.Vocab) == 0 {
		return nil, errNotBert
	}
	p := &bertPipeline{
		vocab:    make(map[string]int32, len(m.Vocab)),
		cont:     make(map[string]int32, len(m.Vocab)/4),
		maxChars: 100,
		clean:    boolOr(n.CleanText, true),
		chinese:  boolOr(n.HandleChineseChars, true),
		lower:    boolOr(n.Lowercase, true),
	}
	// tokenizers: strip_accents null follows lowercase
	p.strip = boolOr(n.StripAccents, p.lower)
	if m.MaxInputCharsPerWord != nil {
		p.maxChars = *m.MaxInputCharsPerWord
	}
	prefix := "##"
	if m.ContinuingSubwordPrefix != nil {
		prefix = *m.ContinuingSubwordPrefix
	}
	maxID := int32(0)
	for piece, id := range m.Vocab {
		maxID = max(maxID, id)
		p.vocab[piece] = id
		p.maxStart = max(p.maxStart, len(piece))
		if prefix != "" && strings.HasPrefix(piece, prefix) {
			c := piece[len(prefix):]
			p.cont[c] = id
			p.maxCont = max(p.maxCont, len(c))
		}
	}
	unk, ok := m.Vocab[m.UnkToken]
	if !ok {
		return nil, fmt.Errorf("unk_token %q is not in the vocabulary", m.UnkToken)
	}
	p.unk = unk
	for _, a := range d.AddedTokens {
		if a.Normalized || a.SingleWord || a.Lstrip || a.Rstrip || a.Content == "" {
			return nil, errNotBert // matched after normalisation, or with options the port does not have
		}
		maxID = max(maxID, a.ID)
		p.added = append(p.added, bertAdded{a.Content, a.ID})
		p.addedByte[a.Content[0]] = true
	}
	sort.SliceStable(p.added, func(i, j int) bool { return len(p.added[i].content) > len(p.added[j].content) })
	lookup := func(tok string) (int32, bool) {
		if st, ok := pp.SpecialTokens[tok]; ok && len(st.IDs) == 1 {
			return st.IDs[0], true
		}
		id, ok := m.Vocab[tok]
		return id, ok
	}
	switch pp.Type {
	case "TemplateProcessing":
		s := pp.Single
		if len(s) != 3 || s[0].SpecialToken == nil || s[1].Sequence == nil || s[2].SpecialToken == nil ||
			s[0].SpecialToken.TypeID != 0 || s[1].Sequence.TypeID != 0 || s[2].SpecialToken.TypeID != 0 {
			return nil, errNotBert
		}
		cls, ok1 := lookup(s[0].SpecialToken.ID)
		sep, ok2 := lookup(s[2].SpecialToken.ID)
		if !ok1 || !ok2 {
			return nil, errNotBert
		}
		p.cls, p.sep = cls, sep
	case "BertProcessing":
		var cls, sep int32
		if len(pp.Cls) != 2 || len(pp.Sep) != 2 || json.Unmarshal(pp.Cls[1], &cls) != nil || json.Unmarshal(pp.Sep[1], &sep) != nil {
			return nil, errNotBert
		}
		p.cls, p.sep = cls, sep
	default:
		return nil, errNotBert
	}
	p.pieces = make([]string, maxID+1)
	for piece, id := range m.Vocab {
		p.pieces[id] = piece
	}
	for _, a := range p.added {
		p.pieces[a.id] = a.content
	}
	return p, nil
}

// tokenize returns [CLS] ids [SEP] with at most maxTokens ids in all.
func (p *bertPipeline) tokenize(text string, maxTokens int) Tokens {
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD") // then removed by clean_text, as tokenizers never sees it
	}
	limit := max(maxTokens-2, 0) // room for [CLS] and [SEP]
	w := bertWalker{p: p, ids: make([]int64, 1, min(limit+2, len(text)+2)+1), limit: limit}
	w.ids[0] = int64(p.cls)
	emit := w.emit
	for i := 0; i < len(text) && !w.full(); {
		if p.addedByte[text[i]] {
			if a, ok := p.addedAt(text[i:]); ok {
				w.flush()
				if !w.full() {
					w.ids = append(w.ids, int64(a.id))
				}
				i += len(a.content)
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		p.normalizeRune(r, emit)
	}
	w.flush()
	truncated := len(w.ids)-1 > limit
	if truncated {
		w.ids = w.ids[:1+limit]
	}
	w.ids = append(w.ids, int64(p.sep))
	return Tokens{IDs: w.ids, TypeIDs: make([]int64, len(w.ids)), Truncated: truncated}
}

func (p *bertPipeline) addedAt(s string) (bertAdded, bool) {
	for _, a := range p.added {
		if strings.HasPrefix(s, a.content) {
			return a, true
		}
	}
	return bertAdded{}, false
}

// Kinds of normalised output.
const (
	kindChar  = iota // a character
	kindSpace        // a space: a word boundary
)

// normalizeRune is BertNormalizer on one code point: clean_text (drop
// controls, U+0000 and U+FFFD; whitespace becomes a space), the Chinese
// character padding, lowercase, strip accents (NFD, drop nonspacing marks).
// Each code point is independent in all four steps, so the text can be done
// one code point at a time (NFD's canonical reordering of combining marks is
// not reproduced: it only reorders marks, nearly all of which strip_accents
// drops).
func (p *bertPipeline) normalizeRune(r rune, emit func(c rune, kind int)) {
	if p.clean {
		if r == 0 || r == utf8.RuneError || unicode.Is(bertOther, r) {
			return
		}
	}
	if unicode.Is(bertSpace, r) || (!p.clean && (r == 0x0b || r == 0x0c || r == 0x85)) {
		emit(' ', kindSpace)
		return
	}
	if r < utf8.RuneSelf { // ASCII: one rune out, no decomposition
		if p.lower && 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		emit(r, kindChar)
		return
	}
	pad := p.chinese && unicode.Is(bertCJK, r)
	if pad {
		emit(' ', kindSpace)
	}
	if s, ok := bertLower[r]; ok && p.lower {
		for _, c := range s {
			p.stripRune(c, emit)
		}
	} else {
		p.stripRune(r, emit)
	}
	if pad {
		emit(' ', kindSpace)
	}
}

func (p *bertPipeline) stripRune(r rune, emit func(c rune, kind int)) {
	const kind = kindChar
	if !p.strip || r < utf8.RuneSelf {
		emit(r, kind)
		return
	}
	if 0xAC00 <= r && r <= 0xD7A3 { // Hangul syllables decompose algorithmically
		s := r - 0xAC00
		emit(0x1100+s/(21*28), kind)
		emit(0x1161+(s%(21*28))/28, kind)
		if t := s % 28; t != 0 {
			emit(0x11A7+t, kind)
		}
		return
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	d := norm.NFD.Properties(buf[:n]).Decomposition()
	if d == nil || bertNoDecompose[r] {
		if !unicode.Is(bertMark, r) {
			emit(r, kind)
		}
		return
	}
	for len(d) > 0 {
		c, size := utf8.DecodeRune(d)
		d = d[size:]
		if !unicode.Is(bertMark, c) {
			emit(c, kind)
		}
	}
}

// bertNoDecompose: code points that golang.org/x/text's NFD decomposes and
// tokenizers' does not (its Unicode version is older there), found by
// TestBertNormalizerSweep.
var bertNoDecompose = map[rune]bool{
	0x11938: true, // DIVES AKURU VOWEL SIGN O
}

// bertWalker collects a text's words and turns each into WordPiece ids.
type bertWalker struct {
	p      *bertPipeline
	ids    []int64
	limit  int
	word   []byte
	nchars int
}

// full: more ids than fit, so the text is truncated and nothing more matters.
func (w *bertWalker) full() bool { return len(w.ids)-1 > w.limit }

func (w *bertWalker) emit(c rune, kind int) {
	switch {
	case kind == kindSpace:
		w.flush()
	case c < utf8.RuneSelf && !bertASCIIPunct[c], c >= utf8.RuneSelf && !unicode.Is(bertPunct, c):
		w.add(c)
	default: // punctuation is a word of its own
		w.flush()
		w.add(c)
		w.flush()
	}
}

// add appends c to the word; past max_input_chars_per_word characters only
// the count grows (the word is [UNK] then).
func (w *bertWalker) add(c rune) {
	w.nchars++
	if w.nchars <= w.p.maxChars {
		w.word = utf8.AppendRune(w.word, c)
	}
}

// flush turns the word in progress into WordPiece ids.
func (w *bertWalker) flush() {
	defer func() { w.word, w.nchars = w.word[:0], 0 }()
	if w.nchars == 0 || w.full() {
		return
	}
	p := w.p
	if w.nchars > p.maxChars {
		w.ids = append(w.ids, int64(p.unk))
		return
	}
	word := w.word
	mark := len(w.ids)
	for start := 0; start < len(word); {
		vocab, longest := p.vocab, p.maxStart
		if start > 0 {
			vocab, longest = p.cont, p.maxCont
		}
		end := min(len(word), start+longest)
		for end > start && !utf8.RuneStart(safeByte(word, end)) {
			end--
		}
		found := false
		for end > start {
			if id, ok := vocab[string(word[start:end])]; ok {
				w.ids = append(w.ids, int64(id))
				found = true
				break
			}
			end--
			for end > start && !utf8.RuneStart(word[end]) {
				end--
			}
		}
		if !found {
			w.ids = append(w.ids[:mark], int64(p.unk))
			return
		}
		start = end
	}
}

// safeByte is b[i], or a rune start past the end.
func safeByte(b []byte, i int) byte {
	if i >= len(b) {
		return 0
	}
	return b[i]
}

// bertASCIIPunct is bertPunct for ASCII.
var bertASCIIPunct = func() (t [utf8.RuneSelf]bool) {
	for c := rune(0); c < utf8.RuneSelf; c++ {
		t[c] = unicode.Is(bertPunct, c)
	}
	return t
}()

// normalizeString is BertNormalizer's output for s, as tokenizers'
// normalize_str gives it (for the sweep test): a space for whitespace, a
// Chinese character padded with spaces.
func (p *bertPipeline) normalizeString(s string) string {
	var b strings.Builder
	for _, r := range s {
		p.normalizeRune(r, func(c rune, _ int) { b.WriteRune(c) })
	}
	return b.String()
}
