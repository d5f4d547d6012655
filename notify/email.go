package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

// EmailSender sends a plain-text summary over SMTP, upgrading with
// STARTTLS when the server offers it (required with RequireTLS) and
// authenticating (PLAIN) when a user is configured.
type EmailSender struct {
	Config SMTPConfig
}

// EmailSubject is the subject line of an event's email.
func EmailSubject(s Summary) string { return "[Atrium] " + s.Title }

func (s *EmailSender) Send(ctx context.Context, m *Message) outcome {
	c := s.Config
	if c.Addr == "" {
		return permanent("email is not configured on this server (--smtp-addr)")
	}
	if len(m.Target.To) == 0 {
		return permanent("email target has no recipients")
	}
	for _, to := range m.Target.To {
		if _, err := mail.ParseAddress(to); err != nil || strings.ContainsAny(to, "\r\n") {
			return permanent("bad recipient %q", to)
		}
	}
	sum := Summarize(m.Event)
	err := s.send(ctx, m.Event.ID, m.Target.To, EmailSubject(sum), sum.Text())
	if err == nil {
		return outcome{}
	}
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return outcome{Code: te.Code, Err: err, Permanent: true}
	} else if te != nil {
		return outcome{Code: te.Code, Err: err}
	}
	return outcome{Err: err}
}

func (s *EmailSender) send(ctx context.Context, eventID string, to []string, subject, body string) error {
	c := s.Config
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("--smtp-addr: %w", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	cl, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer cl.Close()
	if err := cl.Hello("atrium"); err != nil {
		return err
	}
	if ok, _ := cl.Extension("STARTTLS"); ok {
		cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if c.TLS != nil {
			cfg = c.TLS.Clone()
			if cfg.ServerName == "" {
				cfg.ServerName = host
			}
		}
		if err := cl.StartTLS(cfg); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	} else if c.RequireTLS {
		return errors.New("the SMTP server does not offer STARTTLS")
	}
	if c.User != "" {
		if err := cl.Auth(smtp.PlainAuth("", c.User, c.Password, host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	from := c.From
	if from == "" {
		from = "atrium@" + host
	}
	fa, err := mail.ParseAddress(from)
	if err != nil {
		return fmt.Errorf("--smtp-from: %w", err)
	}
	if err := cl.Mail(fa.Address); err != nil {
		return err
	}
	for _, r := range to {
		a, _ := mail.ParseAddress(r)
		if err := cl.Rcpt(a.Address); err != nil {
			return err
		}
	}
	w, err := cl.Data()
	if err != nil {
		return err
	}
	var msg strings.Builder
	msg.WriteString("From: " + fa.String() + "\r\n")
	msg.WriteString("To: " + strings.Join(to, ", ") + "\r\n")
	msg.WriteString("Subject: " + mime.QEncoding.Encode("utf-8", subject) + "\r\n")
	msg.WriteString("Date: " + time.Now().UTC().Format(time.RFC1123Z) + "\r\n")
	msg.WriteString("Message-ID: <" + eventID + "." + fmt.Sprint(time.Now().UnixNano()) + "@atrium>\r\n")
	msg.WriteString("X-Atrium-Event-Id: " + eventID + "\r\n")
	msg.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	msg.WriteString(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))
	if _, err := w.Write([]byte(msg.String())); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return cl.Quit()
}
