package cli

import (
	"context"
	"os"

	"go.uber.org/zap"

	"github.com/segstream/segstream/encoder"
	"github.com/segstream/segstream/service"
)

func init() {
	register("encode", "read one text per line on stdin, write one JSON embedding per line", cmdEncode)
}

func cmdEncode(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("encode", "[--config FILE] [--model NAME|DIR] [--provider cpu|cuda] < texts", stderr)
	config := fs.String("config", "", "YAML config file (its encoder section is used)")
	model := fs.String("model", "", "model: a name under var/models (use-lite, all-minilm-l6-v2, all-minilm-l6-v2-q, bge-small-zh-v15, bge-small-zh-v15-q) or a folder with model.onnx, tokenizer.json, spec.json (default var/models/use-lite)")
	modelDir := fs.String("model-dir", "", "model folder (as --model)")
	maxBatch := fs.Int("max-batch", 0, "most texts per model run (default: the config's encoder.max_batch, 64)")
	lib := fs.String("lib", "", "ONNX Runtime shared library (default var/lib/libonnxruntime.so.1 or $SEGSTREAM_ORT_LIB)")
	provider := fs.String("provider", "", "execution provider: cpu or cuda")
	device := fs.Int("device", 0, "CUDA device id")
	verbose := fs.Bool("v", false, "log to stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	env := append([]string{"SEGSTREAM_KAFKA_BROKERS=unused:9092"}, os.Environ()...)
	cfg, err := service.LoadConfig(*config, env)
	if err != nil {
		return err
	}
	ec := cfg.Encoder.Config
	if *modelDir != "" {
		ec.ModelDir = encoder.ModelDir(*modelDir)
	}
	if *model != "" {
		ec.ModelDir = encoder.ModelDir(*model)
	}
	if *maxBatch != 0 {
		ec.MaxBatch = *maxBatch
	}
	if *lib != "" {
		ec.LibraryPath = *lib
	}
	if *provider != "" {
		ec.Provider = *provider
	}
	if *device != 0 {
		ec.DeviceID = *device
	}
	log := zap.NewNop()
	if *verbose {
		log, _ = zap.NewDevelopment()
	}
	enc, err := encoder.New(ec, log, nil)
	if err != nil {
		return err
	}
	defer stderr.cleanup("closing the encoder", enc.Close)
	return encoder.RunEncodeCLI(ctx, enc, os.Stdin, stdout)
}
