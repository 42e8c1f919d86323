//go:build linux && cgo

package encoder

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

static void *segstream_dlopen_global(const char *path) { return dlopen(path, RTLD_NOW | RTLD_GLOBAL); }
static const char *segstream_dlerror(void) { const char *e = dlerror(); return e ? e : "unknown error"; }
*/
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"unsafe"
)

// cudaLibs are the CUDA 12 libraries ONNX Runtime's CUDA provider needs, in an
// order where each one's own dependencies come first (cuFFT needs nvJitLink).
var cudaLibs = []string{
	"libnvJitLink.so.12", "libcudart.so.12", "libcublasLt.so.12", "libcublas.so.12",
	"libcurand.so.10", "libcufft.so.11", "libnvrtc.so.12", "libcudnn.so.9",
}

// preloadCUDA loads, with RTLD_GLOBAL, the CUDA libraries that sit in dir (as
// tools/encoder/setup.sh --gpu lays them out beside the ONNX Runtime library),
// so that libonnxruntime_providers_cuda.so finds them when ONNX Runtime loads
// it: the provider has no RUNPATH, and LD_LIBRARY_PATH is read only at process
// start. Libraries not in dir are left to the system's loader path. It
// returns the libraries it loaded.
func preloadCUDA(dir string) ([]string, error) {
	var loaded []string
	for _, name := range cudaLibs {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			continue // not here: the system's loader path may have it
		}
		cs := C.CString(p)
		h := C.segstream_dlopen_global(cs)
		C.free(unsafe.Pointer(cs))
		if h == nil {
			return loaded, fmt.Errorf("loading %s: %s", p, C.GoString(C.segstream_dlerror()))
		}
		loaded = append(loaded, name) // never closed: the provider keeps using it
	}
	return loaded, nil
}
