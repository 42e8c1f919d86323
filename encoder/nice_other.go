//go:build !linux

package encoder

// niceThread: thread priorities are Linux's here; elsewhere nothing.
func niceThread(int) error { return nil }

// onNicedThread runs fn as it is.
func onNicedThread(_ int, fn func() error) error { return fn() }
