package container

import (
	"errors"
	"os"
	"strings"
	"syscall"
)

// oomInKernelLog reports whether the kernel's log records an out-of-memory
// kill in the memory cgroup of container id. Podman's own OOMKilled flag
// comes from conmon, which misses kills on cgroup v1 hosts; the kernel's
// "oom-kill:…,oom_memcg=…<id>" line does not. False when the log cannot be
// read (no privilege) or has rotated past the kill.
func oomInKernelLog(id string) bool {
	if id == "" {
		return false
	}
	f, err := os.OpenFile("/dev/kmsg", os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	// Each read returns one record; EAGAIN ends the buffer.
	buf := make([]byte, 8192)
	for {
		n, err := f.Read(buf)
		if err != nil {
			// EPIPE: a record was overwritten while reading; go on.
			if errors.Is(err, syscall.EPIPE) {
				continue
			}
			return false
		}
		rec := string(buf[:n])
		if strings.Contains(rec, "oom-kill:") && strings.Contains(rec, "oom_memcg=") && strings.Contains(rec, id) {
			return true
		}
	}
}
