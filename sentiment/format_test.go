package sentiment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFormatRoundTrip(t *testing.T) {
	m := toyModel(t)
	m.SetSplit(strings.Repeat("ab", 32), 14, 1000)
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.bin")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Info() != m.Info() || l.Bits() != m.Bits() || l.Features() != m.Features() || l.Bias() != m.Bias() {
		t.Errorf("loaded %+v %d %d %v, want %+v %d %d %v", l.Info(), l.Bits(), l.Features(), l.Bias(), m.Info(), m.Bits(), m.Features(), m.Bias())
	}
	texts, _ := toyTexts()
	for _, s := range append(texts, "质量一般", "") {
		if a, b := m.Score(s), l.Score(s); a != b {
			t.Errorf("Score(%q): trained %v, loaded %v", s, a, b)
		}
	}
	b2, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Error("re-encoding a loaded model changes its bytes")
	}
	onDisk, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, b) {
		t.Error("Save wrote other bytes than Encode")
	}
}

func TestDecodeRefuses(t *testing.T) {
	b, err := toyModel(t).Encode()
	if err != nil {
		t.Fatal(err)
	}
	// every single flipped byte is caught (the CRC covers all of them)
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x20
		if _, err := Decode(c); !errors.Is(err, ErrFormat) {
			t.Fatalf("byte %d flipped: err %v, want ErrFormat", i, err)
		}
	}
	mid := bytes.Clone(b)
	mid[len(mid)/2] ^= 1
	if _, err := Decode(mid); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("corrupt byte: %v, want a checksum mismatch", err)
	}
	if _, err := Decode(b[:len(b)-9]); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("truncated: %v", err)
	}
	for _, foreign := range [][]byte{nil, []byte("{\"format\": \"segstream.classifier\"}"), []byte("\x1f\x8b\x08\x00"), b[:6]} {
		if _, err := Decode(foreign); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "not a segstream sentiment model") {
			t.Errorf("foreign file %q: %v", foreign, err)
		}
	}
	// another version, with a valid checksum
	v := bytes.Clone(b[:len(b)-4])
	binary.LittleEndian.PutUint16(v[len(magic):], FormatVersion+1)
	v = binary.LittleEndian.AppendUint32(v, crc32.ChecksumIEEE(v))
	if _, err := Decode(v); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "format version 2") {
		t.Errorf("version 2: %v", err)
	}
	// a valid checksum over a body that is not one
	junk := append([]byte(magic), 1, 0, 0, 0, 'x', 'y')
	junk = binary.LittleEndian.AppendUint32(junk, crc32.ChecksumIEEE(junk))
	if _, err := Decode(junk); !errors.Is(err, ErrFormat) {
		t.Errorf("junk body: %v", err)
	}
	path := filepath.Join(t.TempDir(), "bad.bin")
	if err := os.WriteFile(path, mid, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Load of a corrupt file: %v, want an error naming it", err)
	}
}
