package train

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/segstream/segstream/classifier"
)

// CachedEncoder wraps a classifier.TextEncoder with an on-disk cache of
// embeddings keyed by the SHA-256 of the text, in one file per encoder
// model version (so a new model never reads stale vectors). It is for
// training and evaluation reruns, not for serving, and is not safe for
// concurrent use.
type CachedEncoder struct {
	enc   classifier.TextEncoder
	path  string
	m     map[[16]byte][]float32
	fresh [][16]byte // keys not yet written
	// Batch is the most texts per Encode call (default 256).
	Batch int
}

var _ classifier.TextEncoder = (*CachedEncoder)(nil)

// NewCachedEncoder opens (or starts) the cache for enc under dir.
func NewCachedEncoder(enc classifier.TextEncoder, dir string) (*CachedEncoder, error) {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, enc.ModelVersion())
	c := &CachedEncoder{enc: enc, path: filepath.Join(dir, "emb-"+name+".bin"), m: map[[16]byte][]float32{}, Batch: 256}
	f, err := os.Open(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only: a Close error loses nothing
	r := bufio.NewReader(f)
	dim := enc.Dim()
	buf := make([]byte, 16+4*dim)
	for {
		if _, err := io.ReadFull(r, buf); err != nil {
			break // EOF or a torn tail: keep what was read
		}
		var k [16]byte
		copy(k[:], buf)
		v := make([]float32, dim)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[16+4*i:]))
		}
		c.m[k] = v
	}
	return c, nil
}

func textKey(s string) [16]byte {
	h := sha256.Sum256([]byte(s))
	var k [16]byte
	copy(k[:], h[:16])
	return k
}

// Dim is the embedding size.
func (c *CachedEncoder) Dim() int { return c.enc.Dim() }

// ModelVersion is the wrapped encoder's.
func (c *CachedEncoder) ModelVersion() string { return c.enc.ModelVersion() }

// ProfileText is the wrapped encoder's (the cache keys on its result).
func (c *CachedEncoder) ProfileText(texts []string) string { return c.enc.ProfileText(texts) }

// Encode returns cached vectors and encodes the rest.
func (c *CachedEncoder) Encode(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var miss []string
	seen := map[[16]byte]bool{}
	for i, t := range texts {
		k := textKey(t)
		if v, ok := c.m[k]; ok {
			out[i] = v
		} else if !seen[k] {
			seen[k] = true
			miss = append(miss, t)
		}
	}
	for s := 0; s < len(miss); s += c.Batch {
		e := min(s+c.Batch, len(miss))
		vs, err := c.enc.Encode(ctx, miss[s:e])
		if err != nil {
			return nil, fmt.Errorf("encoding %d texts: %w", e-s, err)
		}
		for i, v := range vs {
			k := textKey(miss[s+i])
			c.m[k] = v
			c.fresh = append(c.fresh, k)
		}
		if len(c.fresh) >= 4*c.Batch {
			if err := c.Save(); err != nil {
				return nil, err
			}
		}
	}
	for i, t := range texts {
		if out[i] == nil {
			out[i] = c.m[textKey(t)]
		}
	}
	return out, nil
}

// Save appends the vectors added since the last Save to the cache file.
func (c *CachedEncoder) Save() error {
	if len(c.fresh) == 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(c.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	dim := c.enc.Dim()
	buf := make([]byte, 16+4*dim)
	for _, k := range c.fresh {
		v := c.m[k]
		copy(buf, k[:])
		for i := 0; i < dim; i++ {
			binary.LittleEndian.PutUint32(buf[16+4*i:], math.Float32bits(v[i]))
		}
		if _, err := w.Write(buf); err != nil {
			_ = f.Close() // the write error is the one to report
			return err
		}
	}
	if err := w.Flush(); err != nil {
		_ = f.Close() // the flush error is the one to report
		return err
	}
	c.fresh = c.fresh[:0]
	return f.Close()
}
