package main

// atrium job submit --wait: follow a job to its end with a progress line.

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"atrium"
)

// progress shows a job's state as one line: redrawn in place with \r on a
// terminal, printed as a new line only when it changes otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	width func() int // terminal width; 0 when unknown
	last  string     // the line without its clock, as last shown
	drawn bool       // a line is on screen without its newline
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		p.width = func() int {
			if cols, _, err := term.GetSize(int(f.Fd())); err == nil {
				return cols
			}
			return 0
		}
	}
	return p
}

// show draws j's state as of now.
func (p *progress) show(j *atrium.Job, now time.Time) {
	body := progressLine(j)
	line := "[" + fmtDuration(now.Sub(j.SubmittedAt).Truncate(time.Second)) + "] " + body
	if !p.tty {
		if body != p.last {
			fmt.Fprintln(p.w, line)
		}
		p.last = body
		return
	}
	if p.width != nil {
		if n := p.width(); n > 1 {
			if r := []rune(line); len(r) > n-1 {
				line = string(r[:n-2]) + "…"
			}
		}
	}
	// Carriage return, the line, erase what is left of the previous one.
	fmt.Fprint(p.w, "\r"+line+"\x1b[K")
	p.last, p.drawn = body, true
}

// done ends a drawn line.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// progressLine is the job's status, reason, queue position and pods.
func progressLine(j *atrium.Job) string {
	var b strings.Builder
	b.WriteString(j.ID + " " + j.Status)
	if j.Status == atrium.JobQueuing && j.QueuePosition > 0 {
		fmt.Fprintf(&b, " #%d", j.QueuePosition)
	}
	if j.ReasonCode != "" {
		b.WriteString(" " + j.ReasonCode)
		if j.ReasonMessage != "" {
			b.WriteString(": " + cell(j.ReasonMessage))
		}
	}
	if running, total := podCounts(j); total > 0 && !atrium.JobFinished(j.Status) {
		fmt.Fprintf(&b, " | pods %d/%d running", running, total)
	}
	return b.String()
}

// waitJob polls j until it ends, showing progress on stderr. Ctrl-C (the
// command's context) stops waiting and leaves the job alone.
func (s *session) waitJob(ws string, j *atrium.Job, every time.Duration) (*atrium.Job, error) {
	if every <= 0 {
		every = time.Second
	}
	p := newProgress(s.cmd.ErrOrStderr())
	defer p.done()
	failures := 0
	for {
		p.show(j, time.Now())
		if atrium.JobFinished(j.Status) {
			return j, nil
		}
		select {
		case <-s.ctx.Done():
			p.done()
			return j, &hintError{msg: fmt.Sprintf("stopped waiting; job %s goes on (%s)", j.ID, j.Status),
				hint: fmt.Sprintf("'atrium job get %s' shows it, 'atrium job stop %s' stops it", j.ID, j.ID)}
		case <-time.After(every):
		}
		j2, err := s.client.GetJob(s.ctx, ws, j.ID)
		switch {
		case err == nil:
			j, failures = j2, 0
		case s.ctx.Err() != nil:
			// Handled by the select above.
		case failures < 5:
			// A restarting server or a network blip should not end a
			// long wait; five failures in a row do.
			failures++
		default:
			p.done()
			return j, err
		}
	}
}
