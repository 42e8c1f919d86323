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
	fs := newFlags("encode", "[--config FILE] [--model-dir DIR] [--provider cpu|cuda] < texts", stderr)
	config := fs.String("config", "", "YAML config file (its encoder section is used)")
	modelDir := fs.String("model-dir", "", "model folder with model.onnx, tokenizer.json, spec.json (default var/models/use-lite)")
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
	ec := cfg.Encoder
	if *modelDir != "" {
		ec.ModelDir = *modelDir
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
