package sentiment

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
)

// The model file, little endian throughout:
//
//	magic    [8]byte  "SEGSENT\x1a"
//	version  uint16   FormatVersion
//	flags    uint16   bit 0: the body is DEFLATE-compressed (RFC 1951)
//	body
//	crc      uint32   CRC-32 (IEEE) of every byte before it
//
// The body, uncompressed:
//
//	bits, minN, maxN, norm  uint8   norm: the Normalize version, 1
//	docs, minDF, ngrams     uint32
//	folds                   uint8
//	C, cvAccuracy           float64
//	seed                    uint64
//	testN                   uint32
//	lang, source            uint8 length, bytes
//	bias, wscale            float32
//	features                uint32  F
//	F uvarints              the used buckets: the first, then the gaps (>= 1)
//	F uvarints              their document frequencies (1..docs)
//	F int16                 their weights, in units of wscale
//
// The idf is not stored: Decode recomputes it from df and docs exactly as
// Train did, so a loaded model scores as the trained one did.
const (
	// FormatVersion is the model file version this package writes and reads.
	FormatVersion = 1
	magic         = "SEGSENT\x1a"
	normVersion   = 1
	flagDeflate   = 1
	headerLen     = len(magic) + 4
)

// ErrFormat is wrapped by every error of Decode and Load about a file's
// contents: not a model file, corrupt, or of another version.
var ErrFormat = errors.New("sentiment model file")

// Encode is the model file's bytes.
func (m *Model) Encode() ([]byte, error) {
	var body bytes.Buffer
	le := binary.LittleEndian
	body.Write([]byte{m.bits, m.minN, m.maxN, normVersion})
	for _, v := range []int{m.info.Docs, m.info.MinDF, m.info.NGrams} {
		if v < 0 || v > math.MaxUint32 {
			return nil, fmt.Errorf("encode: %d does not fit a uint32", v)
		}
		body.Write(le.AppendUint32(nil, uint32(v)))
	}
	if m.info.Folds < 0 || m.info.Folds > 255 || m.info.TestN < 0 || m.info.TestN > math.MaxUint32 {
		return nil, fmt.Errorf("encode: folds %d or test size %d out of range", m.info.Folds, m.info.TestN)
	}
	body.WriteByte(uint8(m.info.Folds))
	body.Write(le.AppendUint64(nil, math.Float64bits(m.info.C)))
	body.Write(le.AppendUint64(nil, math.Float64bits(m.info.CVAccuracy)))
	body.Write(le.AppendUint64(nil, m.info.Seed))
	body.Write(le.AppendUint32(nil, uint32(m.info.TestN)))
	for _, s := range []string{m.info.Lang, m.info.Source} {
		if len(s) > 255 {
			return nil, fmt.Errorf("encode: %q longer than 255 bytes", s)
		}
		body.WriteByte(uint8(len(s)))
		body.WriteString(s)
	}
	body.Write(le.AppendUint32(nil, math.Float32bits(m.bias)))
	body.Write(le.AppendUint32(nil, math.Float32bits(m.wscale)))
	body.Write(le.AppendUint32(nil, uint32(len(m.used))))
	var vb []byte
	prev := uint32(0)
	for k, b := range m.used {
		if k == 0 {
			vb = binary.AppendUvarint(vb, uint64(b))
		} else {
			vb = binary.AppendUvarint(vb, uint64(b-prev))
		}
		prev = b
	}
	for _, d := range m.df {
		vb = binary.AppendUvarint(vb, uint64(d))
	}
	for _, w := range m.qw {
		vb = le.AppendUint16(vb, uint16(w))
	}
	body.Write(vb)

	var out bytes.Buffer
	out.WriteString(magic)
	out.Write(le.AppendUint16(nil, FormatVersion))
	out.Write(le.AppendUint16(nil, flagDeflate))
	zw, err := flate.NewWriter(&out, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(body.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	out.Write(le.AppendUint32(nil, crc32.ChecksumIEEE(out.Bytes())))
	return out.Bytes(), nil
}

// Save writes the model file to path (through a temporary file in the
// same folder, renamed into place).
func (m *Model) Save(path string) error {
	b, err := m.Encode()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".sentiment-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp) // best effort: the write already failed
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// Load reads a model file written by Save.
func Load(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// maxBody bounds the decompressed body (a hostile file cannot make Decode
// allocate more): 2^26 buckets at most, about 10 bytes each.
const maxBody = 1 << 30

// Decode reads a model file's bytes. It refuses a file that is not a
// model file, has a wrong checksum (a corrupt or truncated file), is of
// another format version, or whose contents are inconsistent; every such
// error wraps ErrFormat.
func Decode(b []byte) (*Model, error) {
	le := binary.LittleEndian
	if len(b) < len(magic) || string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: not a segstream sentiment model (no %q magic at the start)", ErrFormat, magic)
	}
	if len(b) < headerLen+4 {
		return nil, fmt.Errorf("%w: truncated (%d bytes)", ErrFormat, len(b))
	}
	if v := le.Uint16(b[len(magic):]); v != FormatVersion {
		return nil, fmt.Errorf("%w: format version %d, this build reads version %d", ErrFormat, v, FormatVersion)
	}
	if got, want := crc32.ChecksumIEEE(b[:len(b)-4]), le.Uint32(b[len(b)-4:]); got != want {
		return nil, fmt.Errorf("%w: checksum mismatch (CRC-32 %08x, the file says %08x): the file is corrupt or truncated", ErrFormat, got, want)
	}
	flags := le.Uint16(b[len(magic)+2:])
	if flags&^flagDeflate != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", ErrFormat, flags)
	}
	body := b[headerLen : len(b)-4]
	if flags&flagDeflate != 0 {
		zr := flate.NewReader(bytes.NewReader(body))
		var err error
		body, err = io.ReadAll(io.LimitReader(zr, maxBody+1))
		if err != nil {
			return nil, fmt.Errorf("%w: body: %w", ErrFormat, err)
		}
		if len(body) > maxBody {
			return nil, fmt.Errorf("%w: body larger than %d bytes", ErrFormat, maxBody)
		}
	}
	m, err := decodeBody(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return m, nil
}

// reader reads the body; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return make([]byte, n)
	}
	if n > len(r.b) {
		r.err = errors.New("truncated body")
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8   { return r.take(1)[0] }
func (r *reader) u32() uint32 { return binary.LittleEndian.Uint32(r.take(4)) }
func (r *reader) u64() uint64 { return binary.LittleEndian.Uint64(r.take(8)) }
func (r *reader) str() string { return string(r.take(int(r.u8()))) }

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func decodeBody(b []byte) (*Model, error) {
	r := &reader{b: b}
	m := &Model{bits: r.u8(), minN: r.u8(), maxN: r.u8()}
	norm := r.u8()
	m.info.Docs = int(r.u32())
	m.info.MinDF = int(r.u32())
	m.info.NGrams = int(r.u32())
	m.info.Folds = int(r.u8())
	m.info.C = math.Float64frombits(r.u64())
	m.info.CVAccuracy = math.Float64frombits(r.u64())
	m.info.Seed = r.u64()
	m.info.TestN = int(r.u32())
	m.info.Lang = r.str()
	m.info.Source = r.str()
	m.bias = math.Float32frombits(r.u32())
	m.wscale = math.Float32frombits(r.u32())
	nf := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	switch {
	case m.bits < 10 || m.bits > 26:
		return nil, fmt.Errorf("bits %d: want 10..26", m.bits)
	case m.minN < 1 || m.maxN < m.minN || m.maxN > 8:
		return nil, fmt.Errorf("n-gram range %d..%d", m.minN, m.maxN)
	case norm != normVersion:
		return nil, fmt.Errorf("text normalisation version %d, this build has %d", norm, normVersion)
	case m.info.Docs < 1:
		return nil, errors.New("no training documents")
	case uint64(nf) > 1<<m.bits:
		return nil, fmt.Errorf("%d features for %d buckets", nf, 1<<m.bits)
	case uint64(nf)*4 > uint64(len(r.b)): // at least 1+1+2 bytes each
		return nil, fmt.Errorf("%d features in %d bytes", nf, len(r.b))
	case !finite32(m.bias) || !finite32(m.wscale) || !(m.wscale > 0):
		return nil, fmt.Errorf("bias %v or weight scale %v not valid", m.bias, m.wscale)
	}
	m.used = make([]uint32, nf)
	m.df = make([]uint32, nf)
	m.qw = make([]int16, nf)
	var b64 uint64
	for k := range m.used {
		g := r.uvarint()
		if k > 0 && g == 0 {
			return nil, fmt.Errorf("feature %d: buckets not ascending", k)
		}
		b64 += g
		if b64 >= 1<<m.bits || g >= 1<<m.bits {
			return nil, fmt.Errorf("feature %d: bucket beyond %d", k, 1<<m.bits)
		}
		m.used[k] = uint32(b64)
	}
	for k := range m.df {
		d := r.uvarint()
		if d < 1 || d > uint64(m.info.Docs) {
			if r.err != nil {
				return nil, r.err
			}
			return nil, fmt.Errorf("feature %d: document frequency %d of %d documents", k, d, m.info.Docs)
		}
		m.df[k] = uint32(d)
	}
	w := r.take(2 * int(nf))
	if r.err != nil {
		return nil, r.err
	}
	for k := range m.qw {
		m.qw[k] = int16(binary.LittleEndian.Uint16(w[2*k:]))
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%d bytes after the weights", len(r.b))
	}
	m.build()
	return m, nil
}

func finite32(f float32) bool {
	return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0)
}
