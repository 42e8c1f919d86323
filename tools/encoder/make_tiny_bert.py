#!/usr/bin/env python3
"""Build two small synthetic BERT-style ONNX models for encoder/'s tests.

Usage: make_tiny_bert.py OUT_DIR TOKENIZER_JSON

They exercise the BERT input style end to end (WordPiece tokenizer, padding,
input_ids / attention_mask / token_type_ids, masked mean pooling, L2) without
pretrained weights, which cannot be had here. Their weights are closed-form so
the Go test recomputes the expected embedding from the token ids alone:

  E[i, k] = sin((i + 1) * 0.37 * (k + 1))          token embeddings, i < vocab
  P[s, k] = 0.5 * cos(s * 0.11 * (k + 1))           position embeddings, s < 512
  T[t, k] = 0.25 * (t + 1) * ((k % 3) - 1)          token type embeddings, t < 2
  h[b, s] = E[ids] + P[s] (+ T[type]) where mask = 1, and 1000 where mask = 0

so any padded position that leaks into the pooling shows. Writes
OUT_DIR/{model.onnx,tokenizer.json,spec.json} (with token_type_ids) and
OUT_DIR/no-type-ids/... (without that input).
"""
import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DIM = 32
MAX_POS = 512


def tables(vocab):
    k = np.arange(DIM, dtype=np.float64) + 1
    e = np.sin(np.outer(np.arange(vocab, dtype=np.float64) + 1, 0.37 * k)).astype(np.float32)
    p = (0.5 * np.cos(np.outer(np.arange(MAX_POS, dtype=np.float64), 0.11 * k))).astype(np.float32)
    t = np.stack([0.25 * (tt + 1) * ((np.arange(DIM) % 3) - 1) for tt in range(2)]).astype(np.float32)
    return e, p, t


def build(vocab, with_types):
    e, p, t = tables(vocab)
    inits = [numpy_helper.from_array(e, "E"), numpy_helper.from_array(p, "P"),
             numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
             numpy_helper.from_array(np.array(0, dtype=np.int64), "zero_s"),
             numpy_helper.from_array(np.array(1, dtype=np.int64), "one_s"),
             numpy_helper.from_array(np.array([-1], dtype=np.int64), "last_axis"),
             numpy_helper.from_array(np.array(1000.0, dtype=np.float32), "pad_value"),
             numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one_f")]
    nodes = [
        helper.make_node("Gather", ["E", "input_ids"], ["tok"], axis=0),
        helper.make_node("Shape", ["input_ids"], ["shape"]),
        helper.make_node("Gather", ["shape", "one_s"], ["seq_len"], axis=0),
        helper.make_node("Range", ["zero_s", "seq_len", "one_s"], ["positions"]),
        helper.make_node("Gather", ["P", "positions"], ["pos"], axis=0),
        helper.make_node("Add", ["tok", "pos"], ["h0"]),
    ]
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])]
    last = "h0"
    if with_types:
        inits.append(numpy_helper.from_array(t, "T"))
        inputs.append(helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, ["batch", "seq"]))
        nodes += [helper.make_node("Gather", ["T", "token_type_ids"], ["typ"], axis=0),
                  helper.make_node("Add", ["h0", "typ"], ["h1"])]
        last = "h1"
    nodes += [
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "last_axis"], ["mask3"]),
        helper.make_node("Mul", [last, "mask3"], ["kept"]),
        helper.make_node("Sub", ["one_f", "mask3"], ["inv"]),
        helper.make_node("Mul", ["inv", "pad_value"], ["padded"]),
        helper.make_node("Add", ["kept", "padded"], ["last_hidden_state"]),
    ]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", DIM])]
    graph = helper.make_graph(nodes, "tiny_bert", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="segstream-tools-encoder-make_tiny_bert", producer_version="1")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def write(out, tokenizer_json, vocab, with_types):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "model.onnx"), "wb") as f:
        f.write(build(vocab, with_types).SerializeToString(deterministic=True))
    shutil.copyfile(tokenizer_json, os.path.join(out, "tokenizer.json"))
    inputs = {"input_ids": "input_ids", "attention_mask": "attention_mask"}
    if with_types:
        inputs["token_type_ids"] = "token_type_ids"
    spec = {
        "model_version": "tiny-bert-test@1" + ("" if with_types else "-no-type-ids"),
        "input_style": "bert",
        "inputs": inputs,
        "output": "last_hidden_state",
        "output_kind": "token",
        "pooling": "mean",
        "normalize": True,
        "max_tokens": 128,
        "dim": DIM,
        "tokenizer": {"type": "wordpiece"},
    }
    with open(os.path.join(out, "spec.json"), "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    out, tok = sys.argv[1], sys.argv[2]
    with open(tok, "r", encoding="utf-8") as f:
        vocab = len(json.load(f)["model"]["vocab"])
    write(out, tok, vocab, True)
    write(os.path.join(out, "no-type-ids"), tok, vocab, False)


if __name__ == "__main__":
    main()
