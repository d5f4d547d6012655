package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"sigs.k8s.io/yaml"

	"atrium/httpapi"
)

// print writes v as the API's JSON (indented), as YAML with the same field
// names, or, by default, through table, which writes tab-separated lines
// that are aligned here.
func (s *session) print(v any, table func(w io.Writer)) error {
	out := s.cmd.OutOrStdout()
	switch s.output {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// message prints a confirmation in table mode; json and yaml output stay
// machine-readable, so there the message goes to stderr.
func (s *session) message(format string, args ...any) {
	w := s.cmd.OutOrStdout()
	if s.output != "table" {
		w = s.cmd.ErrOrStderr()
	}
	fmt.Fprintf(w, format+"\n", args...)
}

// moreHint tells how to fetch the next page, on stderr.
func (s *session) moreHint(next string) {
	if next != "" {
		fmt.Fprintf(s.cmd.ErrOrStderr(), "More results: repeat with --page-token %s\n", next)
	}
}

// fmtTime is a time in local time, short form; "-" for none.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return fmtTime(*t)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinOrDash(ss []string) string {
	if len(ss) == 0 {
		return "-"
	}
	return strings.Join(ss, ",")
}

// kv prints "Key:<tab>value" lines for single objects.
func kv(w io.Writer, pairs ...string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(w, "%s:\t%s\n", pairs[i], pairs[i+1])
	}
}

// hintError is a client-side error with the way out.
type hintError struct {
	msg, hint string
}

func (e *hintError) Error() string { return e.msg + " (" + e.hint + ")" }

// run wraps a client command: it builds the session, runs fn and reports
// errors itself (problem detail, status, code, hints) so that main only
// sets the exit status.
func (c *cli) run(fn func(s *session, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := c.newSession(cmd)
		if err == nil {
			err = fn(s, args)
		}
		if err == nil {
			return nil
		}
		server := defaultServer
		if s != nil {
			server = s.server
		}
		reportError(cmd.ErrOrStderr(), err, server)
		return exitError(1)
	}
}

func reportError(w io.Writer, err error, server string) {
	var (
		pe *httpapi.ProblemError
		he *hintError
		ue *url.Error
		oe *net.OpError
	)
	switch {
	case errors.As(err, &pe):
		title := pe.Title
		if title == "" {
			title = statusText(pe.Status)
		}
		var extra []string
		if pe.Code != "" {
			extra = append(extra, "code "+pe.Code)
		}
		if pe.Permission != "" && !strings.Contains(pe.Detail, pe.Permission) {
			extra = append(extra, "permission "+pe.Permission)
		}
		if pe.Field != "" && !strings.Contains(pe.Detail, pe.Field) {
			extra = append(extra, "field "+pe.Field)
		}
		if pe.RequestID != "" {
			extra = append(extra, "request "+pe.RequestID)
		}
		fmt.Fprintf(w, "Error: %d %s: %s (%s)\n", pe.Status, title, orDash(pe.Detail), strings.Join(extra, ", "))
		switch {
		case pe.Status == 401:
			fmt.Fprintf(w, "Hint: log in with 'atrium login --server %s', or pass --token / set ATRIUM_TOKEN.\n", server)
		case pe.Status == 403 && pe.Permission != "":
			module, _, _ := strings.Cut(pe.Permission, ":")
			fmt.Fprintf(w, "Hint: 'atrium permissions --module %s' shows which roles hold %s.\n", module, pe.Permission)
		}
	case errors.As(err, &he):
		fmt.Fprintf(w, "Error: %s\nHint: %s.\n", he.msg, strings.TrimSuffix(he.hint, "."))
	case errors.As(err, &ue) && errors.As(err, &oe):
		fmt.Fprintf(w, "Error: cannot reach the Atrium server at %s: %v\nHint: is 'atrium serve' running there? Choose the server with --server or ATRIUM_SERVER.\n", server, oe.Err)
	default:
		fmt.Fprintf(w, "Error: %v\n", err)
	}
}

func statusText(code int) string {
	if s := http.StatusText(code); s != "" {
		return s
	}
	return "Error"
}

// stdinTerminal returns the file descriptor of stdin when it is a terminal.
func stdinTerminal(cmd *cobra.Command) (int, bool) {
	f, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	return int(f.Fd()), true
}

// lineReader reads lines from the command's stdin; one per command so that
// buffered input is not lost between prompts.
type lineReader struct{ r *bufio.Reader }

func newLineReader(cmd *cobra.Command) *lineReader {
	return &lineReader{r: bufio.NewReader(cmd.InOrStdin())}
}

// readLine returns the next line without its line ending; io.EOF only when
// there was nothing at all.
func (l *lineReader) readLine() (string, error) {
	s, err := l.r.ReadString('\n')
	if err == io.EOF && s != "" {
		err = nil
	}
	return strings.TrimRight(s, "\r\n"), err
}

// prompt asks on stderr and reads a visible line from stdin.
func prompt(cmd *cobra.Command, lr *lineReader, label string) (string, error) {
	fmt.Fprint(cmd.ErrOrStderr(), label)
	s, err := lr.readLine()
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", strings.TrimSuffix(strings.TrimSpace(label), ":"), err)
	}
	return strings.TrimSpace(s), nil
}

// readPassword reads a hidden password from the terminal. Ctrl-C (which
// main turns into a cancelled context) ends the prompt and restores echo.
func readPassword(cmd *cobra.Command, fd int, label string) (string, error) {
	fmt.Fprint(cmd.ErrOrStderr(), label)
	state, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("reading password: %w", err)
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		done <- result{b, err}
	}()
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case r := <-done:
		fmt.Fprintln(cmd.ErrOrStderr())
		if r.err != nil {
			return "", fmt.Errorf("reading password: %w", r.err)
		}
		return string(r.b), nil
	case <-ctx.Done():
		_ = term.Restore(fd, state)
		fmt.Fprintln(cmd.ErrOrStderr())
		return "", errors.New("interrupted")
	}
}

// readPasswordLine reads a password as one line of stdin (--password-stdin).
func readPasswordLine(lr *lineReader) (string, error) {
	pw, err := lr.readLine()
	if err != nil {
		return "", fmt.Errorf("--password-stdin: no password on stdin: %w", err)
	}
	if pw == "" {
		return "", errors.New("--password-stdin: the password line is empty")
	}
	return pw, nil
}

// confirm asks a yes/no question on a terminal; without a terminal the
// caller must have passed --yes.
func confirm(cmd *cobra.Command, question string) (bool, error) {
	if _, ok := stdinTerminal(cmd); !ok {
		return false, &hintError{msg: "refusing to proceed without confirmation: stdin is not a terminal", hint: "pass --yes"}
	}
	ans, err := prompt(cmd, newLineReader(cmd), question+" [y/N] ")
	if err != nil {
		return false, err
	}
	ans = strings.ToLower(ans)
	return ans == "y" || ans == "yes", nil
}
