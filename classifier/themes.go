package classifier

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/segstream/segstream/classifier/internal/num"
)

// ThemeSetFormat and ThemeSetFormatVersion identify a theme file.
const (
	ThemeSetFormat        = "segstream.themes"
	ThemeSetFormatVersion = 1
)

// ThemeSet is a set of interest themes of one encoder model, kept in a file
// of its own beside the classifier model (classifier.theme_files): the
// themes of a language whose model is not the classifier's text encoder,
// such as the Chinese themes of bge-small-zh-v1.5 learnt from review
// categories. A profile's embedding by that model is compared with them, and
// the cosine becomes interests[name] as for the model's own themes.
type ThemeSet struct {
	Format        string `json:"format"`
	FormatVersion int    `json:"format_version"`
	// Encoder is the encoder model version the centroids were computed with
	// (the embedding record's model version); Dim their length.
	Encoder string `json:"encoder"`
	Dim     int    `json:"dim"`
	// Language is the language of the texts the themes describe ("zh").
	Language string `json:"language,omitempty"`
	// Source says what the themes were learnt from and how (free text).
	Source string  `json:"source,omitempty"`
	Themes []Theme `json:"themes"`
}

// Check refuses a theme set whose fields do not fit together.
func (ts *ThemeSet) Check() error {
	if ts.Format != ThemeSetFormat {
		return fmt.Errorf("%w: format %q, want %q", ErrBadModel, ts.Format, ThemeSetFormat)
	}
	if ts.FormatVersion < 1 || ts.FormatVersion > ThemeSetFormatVersion {
		return fmt.Errorf("%w: format version %d, this build reads 1 to %d", ErrBadModel, ts.FormatVersion, ThemeSetFormatVersion)
	}
	if ts.Encoder == "" || ts.Dim <= 0 {
		return fmt.Errorf("%w: encoder and dim must be set", ErrBadModel)
	}
	if len(ts.Themes) == 0 {
		return fmt.Errorf("%w: no themes", ErrBadModel)
	}
	seen := map[string]bool{}
	for i, t := range ts.Themes {
		if t.Name == "" {
			return fmt.Errorf("%w: themes[%d]: no name", ErrBadModel, i)
		}
		if seen[t.Name] {
			return fmt.Errorf("%w: themes[%d]: name %q twice", ErrBadModel, i, t.Name)
		}
		seen[t.Name] = true
		if len(t.Centroid) != ts.Dim {
			return fmt.Errorf("%w: themes[%d] (%s): centroid of %d, want dim %d", ErrBadModel, i, t.Name, len(t.Centroid), ts.Dim)
		}
	}
	return nil
}

// DecodeThemeSet parses and checks a theme file.
func DecodeThemeSet(b []byte) (*ThemeSet, error) {
	var ts ThemeSet
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ts); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadModel, err)
	}
	if err := ts.Check(); err != nil {
		return nil, err
	}
	return &ts, nil
}

// LoadThemeSet reads and checks a theme file.
func LoadThemeSet(path string) (*ThemeSet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading themes: %w", err)
	}
	ts, err := DecodeThemeSet(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ts, nil
}

// Save writes the theme set as indented JSON (through a temporary file).
func (ts *ThemeSet) Save(path string) error {
	if ts.Format == "" {
		ts.Format, ts.FormatVersion = ThemeSetFormat, ThemeSetFormatVersion
	}
	if err := ts.Check(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(ts, "", " ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Cosine is the cosine similarity of two embeddings (0 when either is
// zero): how interests compare a profile's embedding with a theme.
func Cosine(a, b []float32) float64 { return num.Cosine32(a, b) }
