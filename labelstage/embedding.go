package labelstage

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
)

// An embedding record (keyspace.Keys.Embedding) is
// [8 text hash][2 len(model)][model version][dim × float32], little endian:
// the hash of the profile text it was computed from (so an unchanged text
// is not encoded again) and the encoder's model version (so a new model
// re-encodes).
func encodeEmb(hash uint64, model string, v []float32) []byte {
	b := make([]byte, 0, 10+len(model)+4*len(v))
	b = binary.LittleEndian.AppendUint64(b, hash)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(model)))
	b = append(b, model...)
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func decodeEmb(b []byte) (hash uint64, model string, v []float32, ok bool) {
	if len(b) < 10 {
		return 0, "", nil, false
	}
	hash = binary.LittleEndian.Uint64(b)
	n := int(binary.LittleEndian.Uint16(b[8:]))
	if len(b) < 10+n || (len(b)-10-n)%4 != 0 {
		return 0, "", nil, false
	}
	model = string(b[10 : 10+n])
	rest := b[10+n:]
	v = make([]float32, len(rest)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(rest[4*i:]))
	}
	return hash, model, v, true
}

// Embedding returns a user's stored embedding with its model version.
func (st *Stage) Embedding(ctx context.Context, user string) ([]float32, string, error) {
	b, err := st.rdb.Get(ctx, st.sp.Embedding(user)).Bytes()
	if err != nil {
		return nil, "", err
	}
	_, model, v, ok := decodeEmb(b)
	if !ok {
		return nil, "", errors.New("labelstage: corrupt embedding record of " + user)
	}
	return v, model, nil
}
