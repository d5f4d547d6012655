package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
)

// flushWriter flushes after every write so streamed logs reach the client
// as they are produced. The 200 and its headers go out with the first
// write (or begin), so an error before any output can still be a problem.
type flushWriter struct {
	w       http.ResponseWriter
	header  func(http.Header)
	started bool
}

func (f *flushWriter) begin() {
	if !f.started {
		f.started = true
		if f.header != nil {
			f.header(f.w.Header())
		}
		f.w.WriteHeader(http.StatusOK)
	}
}

func (f *flushWriter) Write(p []byte) (int, error) {
	f.begin()
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

// lockedWriter serialises writers sharing one response.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// linePrefixer writes whole lines, each with a prefix.
type linePrefixer struct {
	prefix string
	w      io.Writer
	buf    []byte
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if _, err := l.w.Write(append([]byte(l.prefix), l.buf[:i+1]...)); err != nil {
			return 0, err
		}
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

// Flush writes a last line that had no newline.
func (l *linePrefixer) Flush() {
	if len(l.buf) > 0 {
		_, _ = l.w.Write(append(append([]byte(l.prefix), l.buf...), '\n'))
		l.buf = nil
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
