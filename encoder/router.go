package encoder

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/segstream/segstream/lang"
)

// LanguageModel names the model of one language for NewRouter.
type LanguageModel struct {
	// Language is a language code (lang.Detect returns "zh" or "en").
	Language string `yaml:"language" json:"language"`
	// ModelDir is a model folder or a name under var/models (see ModelDir).
	ModelDir string `yaml:"model_dir" json:"model_dir"`
}

// Embedding is one text's vector and what made it.
type Embedding struct {
	// Vector is nil for a text that could not be tokenized (see Router.Encode).
	Vector []float32
	// ModelVersion is the spec.json model_version of the model that encoded it:
	// store it with the vector; vectors of different versions do not compare.
	ModelVersion string
	// Language is the language the text was routed by.
	Language string
}

// Router holds one Encoder per language and encodes each text with the model
// of its language (lang.Detect); a language without a model goes to the
// default language's. Safe for concurrent use.
type Router struct {
	encs  map[string]*Encoder
	def   string
	owned []*Encoder // distinct encoders, closed by Close
	// Detect is the language detector; lang.Detect unless replaced before use.
	Detect func(string) string
}

// NewRouter starts one Encoder per distinct model: base is the shared
// configuration (library, provider, batching; its ModelDir is ignored), models
// the language-to-model list, def the language whose model takes texts of a
// language without one ("" = the first model's). Each Encoder registers its
// metrics on reg with a constant label model=<folder name>.
func NewRouter(base Config, models []LanguageModel, def string, log *zap.Logger, reg prometheus.Registerer) (*Router, error) {
	if len(models) == 0 {
		return nil, fmt.Errorf("%w: encoder.models: no model", ErrConfig)
	}
	if def == "" {
		def = models[0].Language
	}
	r := &Router{encs: map[string]*Encoder{}, def: def, Detect: lang.Detect}
	byDir := map[string]*Encoder{}
	for i, m := range models {
		if m.Language == "" || m.ModelDir == "" {
			r.closeAll()
			return nil, fmt.Errorf("%w: encoder.models[%d]: language and model_dir must be set", ErrConfig, i)
		}
		if _, dup := r.encs[m.Language]; dup {
			r.closeAll()
			return nil, fmt.Errorf("%w: encoder.models[%d]: language %q twice", ErrConfig, i, m.Language)
		}
		dir := ModelDir(m.ModelDir)
		enc, ok := byDir[dir]
		if !ok {
			cfg := base
			cfg.ModelDir = dir
			var mreg prometheus.Registerer
			if reg != nil {
				mreg = prometheus.WrapRegistererWith(prometheus.Labels{"model": filepath.Base(dir)}, reg)
			}
			var err error
			enc, err = New(cfg, log, mreg)
			if err != nil {
				r.closeAll()
				return nil, fmt.Errorf("encoder.models[%d] (%s): %w", i, m.Language, err)
			}
			byDir[dir] = enc
			r.owned = append(r.owned, enc)
		}
		r.encs[m.Language] = enc
	}
	if _, ok := r.encs[def]; !ok {
		r.closeAll()
		return nil, fmt.Errorf("%w: encoder.default_language %q has no model", ErrConfig, def)
	}
	return r, nil
}

// RouterOf routes over encoders the caller built (one per language; the same
// Encoder may serve several). Close closes each of them once.
func RouterOf(encs map[string]*Encoder, def string) (*Router, error) {
	if _, ok := encs[def]; !ok {
		return nil, fmt.Errorf("%w: default language %q has no encoder", ErrConfig, def)
	}
	r := &Router{encs: make(map[string]*Encoder, len(encs)), def: def, Detect: lang.Detect}
	seen := map[*Encoder]bool{}
	for lang, e := range encs {
		if e == nil {
			return nil, fmt.Errorf("%w: language %q: nil encoder", ErrConfig, lang)
		}
		r.encs[lang] = e
		if !seen[e] {
			seen[e] = true
			r.owned = append(r.owned, e)
		}
	}
	return r, nil
}

// Languages lists the languages with a model, sorted.
func (r *Router) Languages() []string {
	out := make([]string, 0, len(r.encs))
	for l := range r.encs {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Default is the language whose model takes the texts of other languages.
func (r *Router) Default() string { return r.def }

// For returns the encoder of lang (the default language's if lang has none)
// and the language it stands for.
func (r *Router) For(lang string) (*Encoder, string) {
	if e, ok := r.encs[lang]; ok {
		return e, lang
	}
	return r.encs[r.def], r.def
}

// Route is the encoder and language for one text.
func (r *Router) Route(text string) (*Encoder, string) { return r.For(r.Detect(text)) }

// ProfileText is the one text a profile contributes (see the function
// ProfileText), cut to the token limit of the model its texts route to, and
// that model's language: the language of the texts joined, so a profile is
// encoded by one model.
func (r *Router) ProfileText(texts []string) (string, string) {
	enc, lang := r.Route(strings.Join(texts, " "))
	return enc.ProfileText(texts), lang
}

// ProfilePart is the text of a profile that one model encodes.
type ProfilePart struct {
	// Model is the model's version (its spec.json model_version).
	Model string
	// Language is the language the part's texts were routed by (the model's
	// language; the default language for texts of a language without one).
	Language string
	// Text is the model's ProfileText of the part's texts.
	Text string
}

// ProfileParts splits a profile's texts (newest first) by the model of their
// language: a text's declared language (langs[i], see lang.Of) or else the
// detected one. Each model gets one text, its ProfileText of its texts in
// their order (cut to its token limit). Parts come in the order of their
// newest text. langs may be nil or shorter than texts (undeclared).
func (r *Router) ProfileParts(texts, langs []string) []ProfilePart {
	type group struct {
		enc   *Encoder
		lang  string
		texts []string
	}
	var groups []*group
	for i, t := range texts {
		declared := ""
		if i < len(langs) {
			declared = langs[i]
		}
		l := declared
		if l == "" {
			l = r.Detect(t)
		} else {
			l = lang.Of(t, declared)
		}
		enc, l := r.For(l)
		var g *group
		for _, x := range groups {
			if x.enc == enc {
				g = x
				break
			}
		}
		if g == nil {
			g = &group{enc: enc, lang: l}
			groups = append(groups, g)
		}
		g.texts = append(g.texts, t)
	}
	out := make([]ProfilePart, 0, len(groups))
	for _, g := range groups {
		if text := g.enc.ProfileText(g.texts); text != "" {
			out = append(out, ProfilePart{Model: g.enc.ModelVersion(), Language: g.lang, Text: text})
		}
	}
	return out
}

// ByVersion returns the encoder of a model version (ProfilePart.Model).
func (r *Router) ByVersion(model string) (*Encoder, bool) {
	for _, e := range r.owned {
		if e.ModelVersion() == model {
			return e, true
		}
	}
	return nil, false
}

// EncodeWith embeds texts with the model of that version.
func (r *Router) EncodeWith(ctx context.Context, model string, texts []string) ([][]float32, error) {
	e, ok := r.ByVersion(model)
	if !ok {
		return nil, fmt.Errorf("%w: no model %q in the router", ErrConfig, model)
	}
	return e.Encode(ctx, texts)
}

// Routing describes which model takes which language: "en=<version>,
// zh=<version>, default=en", sorted. Texts encoded under another routing
// may have gone to another model.
func (r *Router) Routing() string {
	var b strings.Builder
	for _, l := range r.Languages() {
		fmt.Fprintf(&b, "%s=%s,", l, r.encs[l].ModelVersion())
	}
	b.WriteString("default=" + r.def)
	return b.String()
}

// Encode embeds each text with the model of its language, in order. The
// languages' encoders run concurrently. Texts that cannot be tokenized fail
// alone, as in Encoder.Encode: their Vector is nil and the error is a
// *BatchError indexed by position in texts. Any other error fails the call.
func (r *Router) Encode(ctx context.Context, texts []string) ([]Embedding, error) {
	out := make([]Embedding, len(texts))
	type group struct {
		lang  string
		enc   *Encoder
		idx   []int
		texts []string
	}
	groups := map[*Encoder]*group{}
	var order []*group
	for i, t := range texts {
		enc, lang := r.Route(t)
		out[i].Language = lang
		out[i].ModelVersion = enc.ModelVersion()
		g, ok := groups[enc]
		if !ok {
			g = &group{lang: lang, enc: enc}
			groups[enc] = g
			order = append(order, g)
		}
		g.idx = append(g.idx, i)
		g.texts = append(g.texts, t)
	}
	errs := make([]error, len(order))
	vecs := make([][][]float32, len(order))
	var wg sync.WaitGroup
	for k, g := range order {
		if k == len(order)-1 { // the last group in this goroutine
			vecs[k], errs[k] = g.enc.Encode(ctx, g.texts)
			break
		}
		wg.Add(1)
		go func(k int, g *group) {
			defer wg.Done()
			vecs[k], errs[k] = g.enc.Encode(ctx, g.texts)
		}(k, g)
	}
	wg.Wait()
	var failed map[int]error
	for k, g := range order {
		var be *BatchError
		if err := errs[k]; err != nil {
			if !errors.As(err, &be) {
				return nil, err
			}
			for j, e := range be.Failed {
				if failed == nil {
					failed = map[int]error{}
				}
				failed[g.idx[j]] = e
			}
		}
		for j, i := range g.idx {
			out[i].Vector = vecs[k][j]
		}
	}
	if failed != nil {
		return out, &BatchError{Failed: failed}
	}
	return out, nil
}

// Close closes every encoder the router holds.
func (r *Router) Close() error {
	var errs []error
	for _, e := range r.owned {
		errs = append(errs, e.Close())
	}
	return errors.Join(errs...)
}

func (r *Router) closeAll() { _ = r.Close() }
