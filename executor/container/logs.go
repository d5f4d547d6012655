package container

import (
	"bufio"
	"bytes"
	"io"
)

// logReader turns podman's k8s-file log ("<time> <stream> <F|P> <text>"
// per line, P for a partial line) back into the output as written.
type logReader struct {
	w    io.Writer
	rest []byte // an incomplete line read so far
}

// copy writes every complete log line of r to w; a line still being
// written waits for the next call.
func (l *logReader) copy(r io.Reader) error {
	br := bufio.NewReader(r)
	for {
		b, err := br.ReadBytes('\n')
		l.rest = append(l.rest, b...)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		line := l.rest
		l.rest = nil
		if err := l.write(line[:len(line)-1]); err != nil {
			return err
		}
	}
}

// flush writes a last line that has no newline yet.
func (l *logReader) flush() error {
	if len(l.rest) == 0 {
		return nil
	}
	line := l.rest
	l.rest = nil
	return l.write(line)
}

func (l *logReader) write(line []byte) error {
	// Skip time and stream; keep the tag.
	f := bytes.SplitN(line, []byte(" "), 4)
	if len(f) < 3 {
		return nil
	}
	var text []byte
	if len(f) == 4 {
		text = f[3]
	}
	if string(f[2]) != "P" {
		text = append(text, '\n')
	}
	_, err := l.w.Write(text)
	return err
}
