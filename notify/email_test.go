package notify

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"mime"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"atrium"
)

// smtpMessage is one message the test SMTP server accepted.
type smtpMessage struct {
	From   string
	To     []string
	Data   string
	TLS    bool // sent after STARTTLS
	AuthOK bool
}

// smtpServer speaks enough SMTP for net/smtp: EHLO (offering STARTTLS and
// AUTH PLAIN), STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
type smtpServer struct {
	ln   net.Listener
	tls  *tls.Config
	pool *x509.CertPool
	mu   sync.Mutex
	msgs []smtpMessage
	got  chan smtpMessage
}

func newSMTPServer(t *testing.T) *smtpServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "atrium test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, pool: pool, got: make(chan smtpMessage, 100),
		tls: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer func() { c.Close() }()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	reply := func(lines ...string) {
		for _, l := range lines {
			w.WriteString(l + "\r\n")
		}
		w.Flush()
	}
	reply("220 localhost test ESMTP")
	var m smtpMessage
	inTLS := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		cmd := strings.ToUpper(line)
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			if inTLS {
				reply("250-localhost", "250-AUTH PLAIN", "250 8BITMIME")
			} else {
				reply("250-localhost", "250-STARTTLS", "250 8BITMIME")
			}
		case cmd == "STARTTLS" && !inTLS:
			reply("220 go ahead")
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, inTLS = tc, true
			r, w = bufio.NewReader(tc), bufio.NewWriter(tc)
			m = smtpMessage{}
		case strings.HasPrefix(cmd, "AUTH PLAIN"):
			m.AuthOK = strings.HasSuffix(line, " AGFsZXJ0cwBodW50ZXIy") // \0alerts\0hunter2
			if m.AuthOK {
				reply("235 ok")
			} else {
				reply("535 bad credentials")
			}
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			m.From = angle(line[len("MAIL FROM:"):])
			reply("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			m.To = append(m.To, angle(line[len("RCPT TO:"):]))
			reply("250 ok")
		case cmd == "DATA":
			reply("354 end with .")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			m.Data, m.TLS = b.String(), inTLS
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			s.got <- m
			m = smtpMessage{AuthOK: m.AuthOK}
			reply("250 queued")
		case cmd == "RSET", cmd == "NOOP":
			reply("250 ok")
		case cmd == "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

// TestEmail (acceptance 4): the email target reaches a real SMTP server on
// loopback over STARTTLS, authenticated, with the expected subject and body.
func TestEmail(t *testing.T) {
	srv := newSMTPServer(t)
	s := &EmailSender{Config: SMTPConfig{Addr: srv.ln.Addr().String(), From: "Atrium <atrium@example.com>",
		User: "alerts", Password: "hunter2", TLS: &tls.Config{RootCAs: srv.pool}, RequireTLS: true}}
	ev := sampleEvent()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := s.Send(ctx, &Message{Event: ev, Payload: Payload(ev), Target: atrium.AlertTarget{Type: atrium.TargetEmail, To: []string{"bob@example.com", "Carol <carol@example.com>"}}})
	if out.Err != nil {
		t.Fatalf("send: %v", out.Err)
	}
	m := <-srv.got
	if !m.TLS || !m.AuthOK || m.From != "atrium@example.com" || strings.Join(m.To, ",") != "bob@example.com,carol@example.com" {
		t.Fatalf("envelope = %+v", m)
	}
	msg, err := mail.ReadMessage(strings.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	subj, err := new(mimeDecoder).decode(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "[Atrium] dlc.job.status.changed: mnist Running → Succeeded"; subj != want {
		t.Errorf("subject = %q, want %q", subj, want)
	}
	body := new(strings.Builder)
	_, _ = bufio.NewReader(msg.Body).WriteTo(body)
	for _, want := range []string{"Status: Running → Succeeded", "Reason: done", "Event ID: evt-1"} {
		if !strings.Contains(body.String(), want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}

	// Without a trusted certificate STARTTLS fails and the attempt is retried.
	s.Config.TLS = nil
	if out := s.Send(ctx, &Message{Event: ev, Target: atrium.AlertTarget{To: []string{"bob@example.com"}}}); out.Err == nil || out.Permanent {
		t.Errorf("untrusted certificate: outcome = %+v, want a retryable error", out)
	}
	// Unconfigured or bad targets fail for good.
	if out := (&EmailSender{}).Send(ctx, &Message{Event: ev, Target: atrium.AlertTarget{To: []string{"bob@example.com"}}}); !out.Permanent {
		t.Errorf("no smtp: %+v", out)
	}
	if out := s.Send(ctx, &Message{Event: ev, Target: atrium.AlertTarget{To: []string{"bob\r\nBcc: x@y"}}}); !out.Permanent {
		t.Errorf("bad recipient: %+v", out)
	}
}

type mimeDecoder struct{}

func (mimeDecoder) decode(s string) (string, error) {
	return new(mime.WordDecoder).DecodeHeader(s)
}

// angle returns the address in <…> of a MAIL or RCPT argument.
func angle(s string) string {
	if i := strings.Index(s, "<"); i >= 0 {
		if j := strings.Index(s[i:], ">"); j >= 0 {
			return s[i+1 : i+j]
		}
	}
	return strings.TrimSpace(s)
}
