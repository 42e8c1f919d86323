package labelstage

import (
	"context"
	"encoding/binary"
	"errors"
	"math"

	"github.com/cespare/xxhash/v2"

	"github.com/segstream/segstream/classifier"
)

// TextPart is the text of a profile that one model encodes.
type TextPart struct {
	Model string // the model's version (classifier.Embedding.Model)
	Text  string
}

// Encoder embeds profile texts, each with the model of its language. The
// service adapts an *encoder.Router to it; Single adapts one
// classifier.TextEncoder.
type Encoder interface {
	// Parts splits a profile's texts (newest first, each with its declared
	// language or "") into one text per model: the model's version and the
	// text it encodes (its ProfileText of the texts that go to it).
	Parts(texts, langs []string) []TextPart
	// Encode embeds texts with the model of that version, one vector each.
	Encode(ctx context.Context, model string, texts []string) ([][]float32, error)
	// Signature identifies the routing: which models take which languages.
	// A record made under another signature is encoded again.
	Signature() uint64
}

// Single is an Encoder that encodes every text with enc.
func Single(enc classifier.TextEncoder) Encoder {
	return single{enc: enc, sig: xxhash.Sum64String("single\x00" + enc.ModelVersion())}
}

type single struct {
	enc classifier.TextEncoder
	sig uint64
}

func (s single) Parts(texts, _ []string) []TextPart {
	return []TextPart{{Model: s.enc.ModelVersion(), Text: s.enc.ProfileText(texts)}}
}

func (s single) Encode(ctx context.Context, _ string, texts []string) ([][]float32, error) {
	return s.enc.Encode(ctx, texts)
}

func (s single) Signature() uint64 { return s.sig }

// An embedding record (keyspace.Keys.Embedding) holds a profile's
// embeddings, one per model its texts went to. Version 2, little endian:
//
//	[8 × 0xff][1 version = 2][8 text hash][8 signature][1 parts]
//	per part: [2 len(model)][model version][8 part hash][2 dim][dim × float32]
//
// The text hash is the profile's TextHash the parts were computed from, the
// signature the Encoder's: when both still hold, the profile is not encoded
// again. A part's hash is the hash of the text its model encoded, so the
// part of a language whose texts did not change is kept without encoding.
//
// Version 1 ([8 text hash][2 len(model)][model version][dim × float32])
// still reads, as one part under signature 0: it is used until the profile
// is encoded again, and it is (the signature differs) at its next
// evaluation.
type embRecord struct {
	TextHash uint64
	Sig      uint64
	Parts    []embPart
}

type embPart struct {
	Model  string
	Hash   uint64
	Vector []float32
}

const embV2Marker = math.MaxUint64

func encodeEmbRecord(r embRecord) []byte {
	n := 26
	for _, p := range r.Parts {
		n += 12 + len(p.Model) + 4*len(p.Vector)
	}
	b := make([]byte, 0, n)
	b = binary.LittleEndian.AppendUint64(b, embV2Marker)
	b = append(b, 2)
	b = binary.LittleEndian.AppendUint64(b, r.TextHash)
	b = binary.LittleEndian.AppendUint64(b, r.Sig)
	b = append(b, byte(len(r.Parts)))
	for _, p := range r.Parts {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p.Model)))
		b = append(b, p.Model...)
		b = binary.LittleEndian.AppendUint64(b, p.Hash)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p.Vector)))
		for _, x := range p.Vector {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
	}
	return b
}

func decodeEmbRecord(b []byte) (embRecord, bool) {
	if len(b) < 10 {
		return embRecord{}, false
	}
	if binary.LittleEndian.Uint64(b) != embV2Marker {
		return decodeEmbV1(b)
	}
	if len(b) < 26 || b[8] != 2 {
		return embRecord{}, false
	}
	r := embRecord{TextHash: binary.LittleEndian.Uint64(b[9:]), Sig: binary.LittleEndian.Uint64(b[17:])}
	n := int(b[25])
	rest := b[26:]
	r.Parts = make([]embPart, 0, n)
	for range n {
		if len(rest) < 2 {
			return embRecord{}, false
		}
		ml := int(binary.LittleEndian.Uint16(rest))
		if len(rest) < 2+ml+10 {
			return embRecord{}, false
		}
		p := embPart{Model: string(rest[2 : 2+ml]), Hash: binary.LittleEndian.Uint64(rest[2+ml:])}
		dim := int(binary.LittleEndian.Uint16(rest[10+ml:]))
		rest = rest[12+ml:]
		if len(rest) < 4*dim {
			return embRecord{}, false
		}
		p.Vector = make([]float32, dim)
		for i := range p.Vector {
			p.Vector[i] = math.Float32frombits(binary.LittleEndian.Uint32(rest[4*i:]))
		}
		rest = rest[4*dim:]
		r.Parts = append(r.Parts, p)
	}
	if len(rest) != 0 {
		return embRecord{}, false
	}
	return r, true
}

func decodeEmbV1(b []byte) (embRecord, bool) {
	hash := binary.LittleEndian.Uint64(b)
	n := int(binary.LittleEndian.Uint16(b[8:]))
	if len(b) < 10+n || (len(b)-10-n)%4 != 0 {
		return embRecord{}, false
	}
	p := embPart{Model: string(b[10 : 10+n])}
	rest := b[10+n:]
	p.Vector = make([]float32, len(rest)/4)
	for i := range p.Vector {
		p.Vector[i] = math.Float32frombits(binary.LittleEndian.Uint32(rest[4*i:]))
	}
	return embRecord{TextHash: hash, Parts: []embPart{p}}, true
}

// embeddings are the record's vectors as the segmenter takes them.
func (r embRecord) embeddings() []classifier.Embedding {
	if len(r.Parts) == 0 {
		return nil
	}
	out := make([]classifier.Embedding, len(r.Parts))
	for i, p := range r.Parts {
		out[i] = classifier.Embedding{Model: p.Model, Vector: p.Vector}
	}
	return out
}

// part returns the stored vector of model for a text of hash h.
func (r embRecord) part(model string, h uint64) ([]float32, bool) {
	for _, p := range r.Parts {
		if p.Model == model && p.Hash == h && h != 0 {
			return p.Vector, true
		}
	}
	return nil, false
}

func partHash(text string) uint64 { return xxhash.Sum64String(text) }

// Embeddings returns a user's stored embeddings, one per model its texts
// went to.
func (st *Stage) Embeddings(ctx context.Context, user string) ([]classifier.Embedding, error) {
	b, err := st.rdb.Get(ctx, st.sp.Embedding(user)).Bytes()
	if err != nil {
		return nil, err
	}
	r, ok := decodeEmbRecord(b)
	if !ok {
		return nil, errors.New("labelstage: corrupt embedding record of " + user)
	}
	return r.embeddings(), nil
}
