package encoder

import (
	"fmt"
	"math"

	ort "github.com/yalue/onnxruntime_go"
)

// runner packs token sequences into the model's inputs, runs the session and
// pools the output into one vector per sequence. One runner is shared by the
// workers (ONNX Runtime sessions are safe for concurrent Run calls); each
// worker brings its own packBuf.
type runner struct {
	spec   Spec
	sess   *ort.DynamicAdvancedSession
	inputs []string // graph input names, in the order the tensors are passed
	types  bool     // bert: the graph takes token_type_ids
}

func newRunner(cfg Config, spec Spec, modelPath string) (*runner, error) {
	r := &runner{spec: spec}
	switch spec.InputStyle {
	case "sparse_ids":
		r.inputs = []string{spec.Inputs["indices"], spec.Inputs["values"]}
	case "bert":
		r.inputs = []string{spec.Inputs["input_ids"], spec.Inputs["attention_mask"]}
		if name := spec.Inputs["token_type_ids"]; name != "" {
			r.inputs = append(r.inputs, name)
			r.types = true
		}
	}
	s, err := newSession(cfg, modelPath, r.inputs, spec.Output)
	if err != nil {
		return nil, err
	}
	r.sess = s
	return r, nil
}

func (r *runner) close() error {
	if r.sess == nil {
		return nil
	}
	err := r.sess.Destroy()
	r.sess = nil
	return err
}

// packBuf holds one worker's reusable input buffers. The tensors wrap these
// slices, so a buffer is reused only after its run returned.
type packBuf struct {
	a, b, c []int64
}

func grow(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n, n+n/4)
	}
	return s[:n]
}

// run embeds seqs (one batch). Sequences must be non-empty for the sparse
// style except that a batch may hold empty ones before a non-empty one (the
// graph drops trailing empty rows).
func (r *runner) run(seqs []Tokens, buf *packBuf) ([][]float32, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	var (
		in   []ort.Value
		seqL int
		err  error
	)
	switch r.spec.InputStyle {
	case "sparse_ids":
		in, err = r.packSparse(seqs, buf)
	default:
		in, seqL, err = r.packBert(seqs, buf)
	}
	defer func() {
		for _, v := range in {
			_ = v.Destroy() // frees C memory; its error is not actionable
		}
	}()
	if err != nil {
		return nil, err
	}
	out := []ort.Value{nil}
	if err := r.sess.Run(in, out); err != nil {
		return nil, fmt.Errorf("%w: run: %w", ErrModel, err)
	}
	defer func() { _ = out[0].Destroy() }()
	t, ok := out[0].(*ort.Tensor[float32])
	if !ok {
		return nil, fmt.Errorf("%w: output %s is %T, want a float32 tensor", ErrModel, r.spec.Output, out[0])
	}
	return r.pool(t.GetData(), t.GetShape(), seqs, seqL)
}

func (r *runner) packSparse(seqs []Tokens, buf *packBuf) ([]ort.Value, error) {
	n := 0
	for _, s := range seqs {
		n += len(s.IDs)
	}
	buf.a = grow(buf.a, 2*n)
	buf.b = grow(buf.b, n)
	k := 0
	for row, s := range seqs {
		for pos, id := range s.IDs {
			buf.a[2*k] = int64(row)
			buf.a[2*k+1] = int64(pos)
			buf.b[k] = id
			k++
		}
	}
	idx, err := ort.NewTensor(ort.NewShape(int64(n), 2), buf.a)
	if err != nil {
		return nil, fmt.Errorf("%w: indices tensor: %w", ErrModel, err)
	}
	val, err := ort.NewTensor(ort.NewShape(int64(n)), buf.b)
	if err != nil {
		_ = idx.Destroy()
		return nil, fmt.Errorf("%w: values tensor: %w", ErrModel, err)
	}
	return []ort.Value{idx, val}, nil
}

func (r *runner) packBert(seqs []Tokens, buf *packBuf) ([]ort.Value, int, error) {
	L := 1
	for _, s := range seqs {
		L = max(L, len(s.IDs))
	}
	n := len(seqs) * L
	buf.a = grow(buf.a, n)
	buf.b = grow(buf.b, n)
	clear(buf.a)
	clear(buf.b)
	if r.types {
		buf.c = grow(buf.c, n)
		clear(buf.c)
	}
	for i, s := range seqs {
		copy(buf.a[i*L:], s.IDs)
		for j := range s.IDs {
			buf.b[i*L+j] = 1
		}
		if r.types {
			copy(buf.c[i*L:], s.TypeIDs)
		}
	}
	shape := ort.NewShape(int64(len(seqs)), int64(L))
	var vals []ort.Value
	for _, data := range [][]int64{buf.a, buf.b, buf.c}[:len(r.inputs)] {
		t, err := ort.NewTensor(shape, data)
		if err != nil {
			for _, v := range vals {
				_ = v.Destroy()
			}
			return nil, 0, fmt.Errorf("%w: input tensor: %w", ErrModel, err)
		}
		vals = append(vals, t)
	}
	return vals, L, nil
}

// pool turns the output into one vector per sequence: rows of a sentence
// output as they are; masked mean (or the first token) of a token output.
func (r *runner) pool(data []float32, shape ort.Shape, seqs []Tokens, seqL int) ([][]float32, error) {
	dim := r.spec.Dim
	b := len(seqs)
	backing := make([]float32, b*dim)
	res := make([][]float32, b)
	for i := range res {
		res[i] = backing[i*dim : (i+1)*dim : (i+1)*dim]
	}
	switch r.spec.OutputKind {
	case "sentence":
		if len(shape) != 2 || shape[0] != int64(b) || shape[1] != int64(dim) {
			return nil, fmt.Errorf("%w: output %s has shape %v, want [%d %d] (spec.json dim?)", ErrModel, r.spec.Output, shape, b, dim)
		}
		copy(backing, data)
	case "token":
		if len(shape) != 3 || shape[0] != int64(b) || shape[1] != int64(seqL) || shape[2] != int64(dim) {
			return nil, fmt.Errorf("%w: output %s has shape %v, want [%d %d %d] (spec.json dim?)", ErrModel, r.spec.Output, shape, b, seqL, dim)
		}
		for i, s := range seqs {
			v := res[i]
			n := len(s.IDs)
			if r.spec.Pooling == "cls" {
				n = min(n, 1)
			}
			if n == 0 {
				continue
			}
			base := i * seqL * dim
			for j := 0; j < n; j++ {
				row := data[base+j*dim : base+(j+1)*dim]
				for k, x := range row {
					v[k] += x
				}
			}
			inv := 1 / float32(n)
			for k := range v {
				v[k] *= inv
			}
		}
	}
	if r.spec.Normalize {
		for _, v := range res {
			l2normalize(v)
		}
	}
	return res, nil
}

func l2normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
}
