package console

import (
	"io"
	"net/http"
	"sync"
)

// inproc is an http.RoundTripper that serves requests with the API handler
// in this process: the console is an API client like the CLI, so every read
// and write goes through the API's one authorizer and operation log, without
// a socket. Bodies stream through a pipe, so followed logs work too.
type inproc struct {
	h http.Handler
}

func (t inproc) RoundTrip(req *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	resp := &http.Response{Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: req, Body: pr}
	// Headers the transport would normally strip or add.
	if req.Body == nil {
		req.Body = http.NoBody
	}
	req.RequestURI = req.URL.RequestURI()
	go func() {
		defer func() {
			w.writeHeader(http.StatusOK)
			_ = pw.Close()
		}()
		t.h.ServeHTTP(w, req)
	}()
	select {
	case <-w.ready:
	case <-req.Context().Done():
		_ = pr.Close()
		return nil, req.Context().Err()
	}
	resp.StatusCode = w.status
	resp.Status = http.StatusText(w.status)
	resp.Header = w.sent
	resp.ContentLength = -1
	return resp, nil
}

// pipeWriter is the ResponseWriter of an in-process call: the header is
// handed over at WriteHeader, the body goes through the pipe.
type pipeWriter struct {
	header http.Header
	sent   http.Header
	pw     *io.PipeWriter
	once   sync.Once
	ready  chan struct{}
	status int
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) { w.writeHeader(code) }

func (w *pipeWriter) writeHeader(code int) {
	w.once.Do(func() {
		w.status = code
		w.sent = w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	w.writeHeader(http.StatusOK)
	return w.pw.Write(b)
}

// Flush is a no-op: pipe writes are delivered as they happen.
func (w *pipeWriter) Flush() {}
