//go:build !linux || !cgo

package encoder

// preloadCUDA does nothing here: the CUDA libraries are found by the system's
// loader path.
func preloadCUDA(string) ([]string, error) { return nil, nil }
