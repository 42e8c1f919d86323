package encoder

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// The ONNX Runtime environment is process-global: loaded and initialised once,
// from the first library path asked for, and never destroyed (sessions of
// several Encoders share it).
var (
	ortMu   sync.Mutex
	ortPath string
	ortErr  error
)

func initRuntime(libPath string) error {
	ortMu.Lock()
	defer ortMu.Unlock()
	abs, err := filepath.Abs(libPath)
	if err != nil {
		abs = libPath
	}
	if ortPath != "" {
		if ortErr != nil {
			return ortErr
		}
		if abs != ortPath {
			return fmt.Errorf("%w: encoder.library_path: ONNX Runtime is already loaded from %s in this process; %s cannot be loaded beside it", ErrLibrary, ortPath, abs)
		}
		return nil
	}
	ortPath = abs
	if _, err := os.Stat(abs); err != nil {
		ortErr = fmt.Errorf("%w: encoder.library_path: %w (run tools/encoder/setup.sh, or set %s)", ErrLibrary, err, EnvLibraryPath)
		ortPath = ""
		return ortErr
	}
	ort.SetSharedLibraryPath(abs)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		ortErr = fmt.Errorf("%w: loading %s: %w (is it ONNX Runtime 1.24 or newer for this platform?)", ErrLibrary, abs, err)
		return ortErr
	}
	return nil
}

// runtimeVersion is the loaded ONNX Runtime's version.
func runtimeVersion() string { return ort.GetVersion() }

// newSession opens model.onnx with the configured execution provider.
func newSession(cfg Config, modelPath string, inputs []string, output string) (*ort.DynamicAdvancedSession, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("%w: session options: %w", ErrModel, err)
	}
	defer func() { _ = opts.Destroy() }()
	if err := opts.SetIntraOpNumThreads(cfg.IntraOpThreads); err != nil {
		return nil, fmt.Errorf("%w: encoder.intra_op_threads: %w", ErrConfig, err)
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("%w: inter-op threads: %w", ErrModel, err)
	}
	if os.Getenv("SEGSTREAM_ORT_SPIN") != "1" {
		// Intra-op threads that spin after a run take the cores the Go side
		// needs to tokenize and hand over the next batch.
		if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
			return nil, fmt.Errorf("%w: session config: %w", ErrModel, err)
		}
	}
	if err := opts.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll); err != nil {
		return nil, fmt.Errorf("%w: graph optimisation: %w", ErrModel, err)
	}
	if cfg.Provider == "cuda" {
		if err := appendCUDA(opts, cfg.DeviceID, cfg.LibraryPath); err != nil {
			return nil, err
		}
	}
	s, err := ort.NewDynamicAdvancedSession(modelPath, inputs, []string{output}, opts)
	if err != nil {
		if cfg.Provider == "cuda" {
			return nil, fmt.Errorf("%w: cuda device %d: %w (%s)", ErrProvider, cfg.DeviceID, err, cudaHint)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrModel, modelPath, err)
	}
	return s, nil
}

// cudaHint names the usual causes of a CUDA provider failure.
const cudaHint = "is encoder.library_path the CUDA build from tools/encoder/setup.sh --gpu " +
	"(var/lib/gpu/libonnxruntime.so.1), with libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so " +
	"beside it, the CUDA 12 runtime, cuBLAS, cuRAND, cuFFT and cuDNN 9 libraries beside it or on the loader path, " +
	"and an NVIDIA driver loaded?"

// appendCUDA adds the CUDA execution provider: the classic way, for ONNX
// Runtime builds with CUDA compiled in (Microsoft's GPU packages); else, when
// libonnxruntime_providers_cuda.so sits beside the library (the CPU core plus
// plugin provider that setup.sh --gpu fetches), as a plugin provider library.
func appendCUDA(opts *ort.SessionOptions, device int, libPath string) error {
	if _, err := preloadCUDA(filepath.Dir(libPath)); err != nil {
		return fmt.Errorf("%w: cuda device %d: %w (%s)", ErrProvider, device, err, cudaHint)
	}
	classic := func() error {
		cuda, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return err
		}
		defer func() { _ = cuda.Destroy() }()
		if err := cuda.Update(map[string]string{"device_id": strconv.Itoa(device)}); err != nil {
			return err
		}
		return opts.AppendExecutionProviderCUDA(cuda)
	}
	err := classic()
	if err == nil {
		return nil
	}
	plugin := filepath.Join(filepath.Dir(libPath), "libonnxruntime_providers_cuda.so")
	if _, statErr := os.Stat(plugin); statErr != nil {
		return fmt.Errorf("%w: cuda device %d: %w (%s)", ErrProvider, device, err, cudaHint)
	}
	if perr := registerCUDAPlugin(plugin); perr != nil {
		return fmt.Errorf("%w: cuda device %d: %w; as a plugin: %w (%s)", ErrProvider, device, err, perr, cudaHint)
	}
	if perr := opts.AppendExecutionProvider("CUDA", map[string]string{"device_id": strconv.Itoa(device)}); perr != nil {
		return fmt.Errorf("%w: cuda device %d: %w; as a plugin: %w (%s)", ErrProvider, device, err, perr, cudaHint)
	}
	return nil
}

var (
	pluginOnce sync.Once
	pluginErr  error
)

func registerCUDAPlugin(path string) error {
	pluginOnce.Do(func() { pluginErr = ort.RegisterExecutionProviderLibrary("CUDA", path) })
	return pluginErr
}
