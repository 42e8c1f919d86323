package encoder

import (
	"runtime"
	"syscall"
)

// niceThread sets the calling OS thread's nice value (Linux keeps it per
// thread). The caller has locked its goroutine to the thread. Raising the
// nice value (a lower priority) needs no privilege.
func niceThread(n int) error {
	return syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), n)
}

// onNicedThread runs fn on a fresh OS thread with nice value n (n = 0:
// on the caller's goroutine as it is), so that threads fn starts (ONNX
// Runtime's pool) inherit the priority. The thread ends with fn.
func onNicedThread(n int, fn func() error) error {
	if n == 0 {
		return fn()
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
		if err := niceThread(n); err != nil {
			done <- err
			return
		}
		done <- fn()
	}()
	return <-done
}
