package encoder

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/model/unigram"
	"github.com/sugarme/tokenizer/pretrained"
	"golang.org/x/text/unicode/norm"
	"sync"
)

// Tokenizer turns one text into the model's token ids.
type Tokenizer interface {
	// Tokenize returns at most MaxTokens ids (special tokens included) and,
	// for models that take them, as many token type ids. It never panics: a
	// text it cannot handle is an error wrapping ErrTokenize.
	Tokenize(text string) (Tokens, error)
	// MaxTokens is the model's token limit.
	MaxTokens() int
}

// Tokens is one tokenized text.
type Tokens struct {
	IDs []int64
	// TypeIDs is nil for models without token type ids.
	TypeIDs []int64
	// Truncated reports that the text had more tokens than MaxTokens.
	Truncated bool
}

var (
	_ Tokenizer = (*UnigramTokenizer)(nil)
	_ Tokenizer = (*WordPieceTokenizer)(nil)
)

// NewTokenizer loads dir/tokenizer.json as spec says.
func NewTokenizer(dir string, spec Spec) (Tokenizer, error) {
	path := filepath.Join(dir, "tokenizer.json")
	switch spec.Tokenizer.Type {
	case "sentencepiece_unigram":
		return NewUnigramTokenizer(path, spec.MaxTokens, spec.Tokenizer.UnkID)
	case "wordpiece":
		return NewWordPieceTokenizer(path, spec.MaxTokens)
	}
	return nil, fmt.Errorf("%w: spec.json tokenizer.type %q", ErrConfig, spec.Tokenizer.Type)
}

const (
	// metaspace is sentencepiece's word-start marker.
	metaspace = "\u2581"
	// maxWordBytes caps one word before the Unigram Viterbi (a longer word
	// yields well over 128 tokens anyway: no piece is longer than 17 bytes).
	maxWordBytes = 4096
	// unigramResetEvery bounds sugarme's Unigram cache: it keeps every distinct
	// input for 10 minutes (entries expire at once but are only swept by a
	// 10-minute janitor), so the model is rebuilt after this many texts.
	unigramResetEvery = 4096
)

// UnigramTokenizer reproduces the original USE-lite JavaScript tokenizer
// (@energetic-ai/embeddings): NFKC, a "▁" prefix, spaces to "▁", then the
// best-scoring segmentation over the vocabulary, consecutive unknowns merged
// into one id. NFKC and the Metaspace step are done here in Go, not by
// sugarme's normalizer and pre-tokenizer, which differ from the original (see
// docs/encoder.md). Segmentation is sugarme's Unigram model, called word by
// word (no piece holds "▁" past its first character, so every "▁" is a piece
// boundary), except for the few words where sugarme's Viterbi can choose
// another segmentation than the original's: those go through exactLattice, a
// port of the original's.
type UnigramTokenizer struct {
	vocab     []unigram.TokenScore
	exact     *exactLattice
	unkID     int
	maxTokens int
	model     atomic.Pointer[unigram.Unigram]
	uses      atomic.Int64
	// OnReset, if set, is called after each cache reset (for a metric).
	OnReset func()
	// words remembers sugarme's segmentation of each word: its own cache
	// expires entries at once, so every word ran its Viterbi, which scans
	// the whole vocabulary for the unknown score (most of a text's cost).
	words wordCache
	// forceExact sends every word through exactLattice (tests cross-check
	// that sugarme and the port agree on the words routed to sugarme).
	forceExact bool
}

// NewUnigramTokenizer reads a Unigram tokenizer.json (as written by
// tools/encoder/tfjs2onnx.py: reserved pieces carry a leading space so they
// never match).
func NewUnigramTokenizer(path string, maxTokens, unkID int) (*UnigramTokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	var doc struct {
		Model struct {
			Type  string               `json:"type"`
			UnkID *int                 `json:"unk_id"`
			Vocab [][2]json.RawMessage `json:"vocab"`
		} `json:"model"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrModel, path, err)
	}
	if doc.Model.Type != "Unigram" {
		return nil, fmt.Errorf("%w: %s: model type %q, want Unigram", ErrModel, path, doc.Model.Type)
	}
	if doc.Model.UnkID != nil {
		unkID = *doc.Model.UnkID
	}
	vocab := make([]unigram.TokenScore, len(doc.Model.Vocab))
	for i, e := range doc.Model.Vocab {
		var piece string
		var score *float64
		if err := json.Unmarshal(e[0], &piece); err != nil {
			return nil, fmt.Errorf("%w: %s: vocab[%d]: %w", ErrModel, path, i, err)
		}
		if err := json.Unmarshal(e[1], &score); err != nil {
			return nil, fmt.Errorf("%w: %s: vocab[%d]: %w", ErrModel, path, i, err)
		}
		vocab[i].Token = piece
		if score != nil { // the original counts a null score as 0
			vocab[i].Score = *score
		}
	}
	if unkID < 0 || unkID >= len(vocab) {
		return nil, fmt.Errorf("%w: %s: unk_id %d outside the vocabulary", ErrModel, path, unkID)
	}
	ps := make([]pieceScore, len(vocab))
	for i, v := range vocab {
		ps[i] = pieceScore{piece: v.Token, score: v.Score}
	}
	t := &UnigramTokenizer{vocab: vocab, unkID: unkID, maxTokens: maxTokens, exact: newExactLattice(ps, unkID)}
	if err := t.reset(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *UnigramTokenizer) reset() error {
	m, err := unigram.NewUnigramBuilder().Vocab(t.vocab).UnkID(t.unkID).FuseUnk(true).Build()
	if err != nil {
		return fmt.Errorf("%w: unigram: %w", ErrModel, err)
	}
	t.model.Store(m)
	return nil
}

// MaxTokens implements Tokenizer.
func (t *UnigramTokenizer) MaxTokens() int { return t.maxTokens }

// VocabSize is the number of pieces.
func (t *UnigramTokenizer) VocabSize() int { return len(t.vocab) }

// Tokenize implements Tokenizer.
func (t *UnigramTokenizer) Tokenize(text string) (out Tokens, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = Tokens{}, fmt.Errorf("%w: tokenizer panic: %v", ErrTokenize, r)
		}
	}()
	if t.uses.Add(1)%unigramResetEvery == 0 {
		if err := t.reset(); err != nil {
			return Tokens{}, err
		}
		if t.OnReset != nil {
			t.OnReset()
		}
	}
	// Every token covers at least one byte and words are capped, so nothing
	// past this point can reach the first maxTokens tokens.
	if limit := t.maxTokens * maxWordBytes; len(text) > limit {
		text = cutUTF8(text, limit)
	}
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	if text == "" { // NFKC never maps a non-empty text to an empty one
		return Tokens{}, nil
	}
	m := t.model.Load()
	ids := make([]int64, 0, min(t.maxTokens+1, len(text)/3+2))
	var (
		word  strings.Builder
		base  float64 // the original's running best score (see exactLattice)
		first = true
		kept  = 0 // ids of finished words, after merging unknown runs
	)
	// NFKC chunk by chunk, split at ASCII spaces: a space is a starter that
	// composes with nothing, so this equals NFKC of the whole text, and the
	// text is only normalised as far as the first maxTokens tokens reach.
	raw := text
	for {
		chunk, rawRest, more := strings.Cut(raw, " ")
		s := norm.NFKC.String(chunk)
		for {
			w, rest, found := strings.Cut(s, " ") // NFKC can make spaces (U+00A0, U+3000, ...)
			word.Reset()
			word.WriteString(metaspace)
			word.WriteString(cutUTF8(w, maxWordBytes))
			ws := word.String()
			if t.forceExact || t.exact.needsExact(ws, first) {
				ids, base = t.exact.segment(ws, base, ids)
			} else {
				seg, ok := t.words.get(ws)
				if !ok {
					toks, err := m.Tokenize(ws)
					if err != nil {
						return Tokens{}, fmt.Errorf("%w: %w", ErrTokenize, err)
					}
					seg = make([]int32, len(toks))
					for i, tk := range toks {
						seg[i] = int32(tk.Id)
					}
					t.words.put(ws, seg)
				}
				for _, id := range seg {
					ids = append(ids, int64(id))
					base += t.vocab[id].Score
				}
			}
			first = false
			// The original merges each run of unknown ids into one.
			for _, id := range ids[kept:] {
				if id == int64(t.unkID) && kept > 0 && ids[kept-1] == id {
					continue
				}
				ids[kept] = id
				kept++
			}
			ids = ids[:kept]
			if len(ids) > t.maxTokens {
				return Tokens{IDs: ids[:t.maxTokens:t.maxTokens], Truncated: true}, nil
			}
			if !found {
				break
			}
			s = rest
		}
		if !more {
			break
		}
		raw = rawRest
	}
	return Tokens{IDs: ids}, nil
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// maxBertInputBytes caps the text given to a whole-pipeline tokenizer: past it
// nothing can reach the first 128 tokens (a word longer than 100 characters is
// one [UNK]).
const maxBertInputBytes = 64 << 10

// WordPieceTokenizer runs a whole tokenizer.json: [CLS] ... [SEP] for BERT,
// truncated to the model's max tokens, no padding (the encoder pads per
// batch). A tokenizer.json that is the BERT pipeline (BertNormalizer,
// BertPreTokenizer, WordPiece, a [CLS] A [SEP] template: all-MiniLM-L6-v2,
// bge-small-zh-v1.5 and the other BERT-family models) runs through
// bertPipeline, a port of Hugging Face tokenizers' pipeline that matches it id
// for id; any other (a Unigram multilingual model, say) runs through sugarme's
// whole pipeline.
type WordPieceTokenizer struct {
	bert      *bertPipeline
	tk        *tokenizer.Tokenizer
	maxTokens int
	// stripAccents is done here, before sugarme: Hugging Face's BertNormalizer
	// strips accents when strip_accents is null and lowercase is true (as in
	// all-MiniLM-L6-v2), sugarme reads null as false, so "café" became [UNK].
	stripAccents bool
}

// NewWordPieceTokenizer loads a tokenizer.json such as all-MiniLM-L6-v2's.
func NewWordPieceTokenizer(path string, maxTokens int) (*WordPieceTokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	bp, err := newBertPipeline(b)
	switch {
	case err == nil:
		if maxTokens < 2 {
			return nil, fmt.Errorf("%w: %s: max_tokens %d leaves no room for [CLS] and [SEP]", ErrConfig, path, maxTokens)
		}
		return &WordPieceTokenizer{bert: bp, maxTokens: maxTokens}, nil
	case !errors.Is(err, errNotBert):
		return nil, fmt.Errorf("%w: %s: %w", ErrModel, path, err)
	}
	return newSugarmeWordPiece(path, maxTokens)
}

// newSugarmeWordPiece runs tokenizer.json through sugarme's whole pipeline.
func newSugarmeWordPiece(path string, maxTokens int) (*WordPieceTokenizer, error) {
	tk, err := pretrained.FromFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrModel, path, err)
	}
	strip, err := bertStripsAccents(path)
	if err != nil {
		return nil, err
	}
	tk.WithPadding(nil)
	tk.WithTruncation(&tokenizer.TruncationParams{
		MaxLength: maxTokens,
		Strategy:  tokenizer.LongestFirst,
		Stride:    0,
	})
	return &WordPieceTokenizer{tk: tk, maxTokens: maxTokens, stripAccents: strip}, nil
}

// Engine says which implementation runs: "bert" (the port of Hugging Face's
// BERT pipeline) or "sugarme".
func (t *WordPieceTokenizer) Engine() string {
	if t.bert != nil {
		return "bert"
	}
	return "sugarme"
}

// bertStripsAccents reads whether tokenizer.json's BertNormalizer strips
// accents, with Hugging Face's rule: strip_accents null follows lowercase.
func bertStripsAccents(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrModel, err)
	}
	var doc struct {
		Normalizer *struct {
			Type         string `json:"type"`
			Lowercase    *bool  `json:"lowercase"`
			StripAccents *bool  `json:"strip_accents"`
		} `json:"normalizer"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return false, fmt.Errorf("%w: %s: %w", ErrModel, path, err)
	}
	n := doc.Normalizer
	if n == nil || n.Type != "BertNormalizer" {
		return false, nil
	}
	if n.StripAccents != nil {
		return *n.StripAccents, nil
	}
	return n.Lowercase == nil || *n.Lowercase, nil
}

// cutWords cuts text after n whitespace-separated words. Every word but one
// made only of characters BERT's normaliser drops yields at least one token,
// so with n = 4 x max tokens the first max tokens are kept; sugarme would
// otherwise tokenize the whole text before truncating.
func cutWords(text string, n int) string {
	inWord := false
	for i, r := range text {
		space := unicode.IsSpace(r)
		if !space && !inWord {
			if n == 0 {
				return text[:i]
			}
			n--
		}
		inWord = !space
	}
	return text
}

// stripAccents is Hugging Face's: NFD, then drop nonspacing marks (Mn).
func stripAccents(s string) string {
	d := norm.NFD.String(s)
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, d)
}

func (t *WordPieceTokenizer) prepare(text string) string {
	text = cutUTF8(strings.ToValidUTF8(text, "\uFFFD"), maxBertInputBytes)
	text = cutWords(text, 4*t.maxTokens)
	if t.stripAccents {
		text = stripAccents(text)
	}
	return text
}

// MaxTokens implements Tokenizer.
func (t *WordPieceTokenizer) MaxTokens() int { return t.maxTokens }

// TokenStrings returns the token strings of text (for tests and debugging).
func (t *WordPieceTokenizer) TokenStrings(text string) (out []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%w: tokenizer panic: %v", ErrTokenize, r)
		}
	}()
	if t.bert != nil {
		tk := t.bert.tokenize(text, t.maxTokens)
		out = make([]string, len(tk.IDs))
		for i, id := range tk.IDs {
			out[i] = t.bert.pieces[id]
		}
		return out, nil
	}
	enc, err := t.tk.EncodeSingle(t.prepare(text), true)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTokenize, err)
	}
	return enc.GetTokens(), nil
}

// Tokenize implements Tokenizer.
func (t *WordPieceTokenizer) Tokenize(text string) (out Tokens, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = Tokens{}, fmt.Errorf("%w: tokenizer panic: %v", ErrTokenize, r)
		}
	}()
	if t.bert != nil {
		return t.bert.tokenize(text, t.maxTokens), nil
	}
	enc, err := t.tk.EncodeSingle(t.prepare(text), true)
	if err != nil {
		return Tokens{}, fmt.Errorf("%w: %w", ErrTokenize, err)
	}
	ids, types := enc.GetIds(), enc.GetTypeIds()
	out.IDs = make([]int64, len(ids))
	out.TypeIDs = make([]int64, len(ids))
	for i, id := range ids {
		out.IDs[i] = int64(id)
		if i < len(types) {
			out.TypeIDs[i] = int64(types[i])
		}
	}
	out.Truncated = len(enc.Overflowing) > 0
	if len(out.IDs) > t.maxTokens { // belt and braces: the model's limit is hard
		out.IDs, out.TypeIDs, out.Truncated = out.IDs[:t.maxTokens], out.TypeIDs[:t.maxTokens], true
	}
	return out, nil
}

// wordCacheMax bounds the word cache; past it the cache starts afresh
// (words repeat within a catalogue, so it refills with the common ones).
const wordCacheMax = 1 << 16

// wordCache maps a word ("▁" prefix included) to its segmentation. Safe for
// concurrent use.
type wordCache struct {
	mu sync.RWMutex
	m  map[string][]int32
}

func (c *wordCache) get(w string) ([]int32, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	seg, ok := c.m[w]
	return seg, ok
}

func (c *wordCache) put(w string, seg []int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= wordCacheMax {
		c.m = make(map[string][]int32, 1024)
	}
	c.m[strings.Clone(w)] = seg
}
