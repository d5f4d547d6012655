package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"atrium"
	"atrium/secret"
	"atrium/sqlstore"
)

// fixture is a real API server over a real SQLite store.
type fixture struct {
	srv   *httptest.Server
	api   *Server
	store atrium.Store
	logs  *syncBuffer
}

// syncBuffer collects server logs for inspection.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	// Durability is tested in sqlstore and cmd/atrium; here fsync only costs time.
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "atrium.db"), sqlstore.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return setupWith(t, db)
}

// setupWith is setup over a given store (PostgreSQL in some tests).
func setupWith(t *testing.T, db atrium.Store) *fixture {
	t.Helper()
	logs := &syncBuffer{}
	api := NewServer(db, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, api: api, store: db, logs: logs}
}

// user creates a user straight in the store and returns it with a token.
func (f *fixture) user(t *testing.T, name string, platformRoles ...string) (*atrium.User, string) {
	t.Helper()
	u := &atrium.User{Name: name, DisplayName: name, PlatformRoles: append([]string{}, platformRoles...)}
	if err := f.store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	tok := secret.NewToken()
	if err := f.store.CreateToken(context.Background(), &atrium.Token{UserID: u.ID, Name: "test", Hash: secret.HashToken(tok)}); err != nil {
		t.Fatal(err)
	}
	return u, tok
}

// response is what one API call answered.
type response struct {
	status int
	body   []byte
	header http.Header
}

func (r response) problem(t *testing.T) Problem {
	t.Helper()
	var p Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("status %d body is not problem+json: %s", r.status, r.body)
	}
	return p
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends one request; body may be nil, a string (sent raw) or a value (sent as JSON).
func (f *fixture) do(t *testing.T, token, method, path string, body any) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, body: b, header: resp.Header}
}
