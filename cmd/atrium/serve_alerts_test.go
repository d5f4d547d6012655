package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"atrium/notify"
)

// receiver is a webhook endpoint on a fixed loopback address that can be
// started and stopped, counting deliveries by event id.
type receiver struct {
	addr   string
	secret []byte
	mu     sync.Mutex
	seen   map[string]int
	bad    int
	srv    *http.Server
}

func (r *receiver) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if !notify.VerifySignature(r.secret, req.Header.Get("X-Atrium-Timestamp"), body, req.Header.Get("X-Atrium-Signature")) {
			r.bad++
		}
		r.seen[req.Header.Get("X-Atrium-Event-Id")]++
	})}
	go r.srv.Serve(ln)
}

func (r *receiver) count() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen), r.bad
}

// TestServeDeliversAcrossKill is issue 6's acceptance 3: 1,000 events are
// queued while the receiver is down, the server is killed with SIGKILL,
// and after a restart (receiver up) every one of them arrives, signed.
func TestServeDeliversAcrossKill(t *testing.T) {
	dataDir := t.TempDir()
	rcv := &receiver{addr: freeAddr(t), secret: []byte("hook-secret"), seen: map[string]int{}}
	args := []string{"--data-dir", dataDir, "--webhook-allow-cidr", "127.0.0.0/8"}
	s := startServer(t, nil, args...)
	raw, _ := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	token := strings.TrimSpace(string(raw))
	call := func(s *server, method, path string, body any, want int) map[string]any {
		t.Helper()
		st, out := s.call(t, token, method, path, body)
		if st != want {
			t.Fatalf("%s %s: %d %v", method, path, st, out)
		}
		return out
	}
	ws := call(s, "POST", "/api/v1/workspaces", map[string]any{"name": "alerts", "envTypes": []string{"prod"}}, 201)
	wsPath := "/api/v1/workspaces/" + ws["workspaceId"].(string)
	u := call(s, "POST", "/api/v1/users", map[string]any{"name": "bob", "password": "bob's long password"}, 201)
	call(s, "POST", wsPath+"/alert-rules", map[string]any{"name": "members", "eventTypes": []string{"workspace.member.changed"},
		"scope": "All", "enabled": true, "targets": []map[string]any{{"type": "webhook", "url": "http://" + rcv.addr + "/hook", "secret": string(rcv.secret)}}}, 201)
	time.Sleep(3500 * time.Millisecond) // the engine refreshes its rule cache every few seconds

	// 1,000 membership events while the receiver is down.
	begin := time.Now()
	added := call(s, "POST", wsPath+"/members", map[string]any{"members": []map[string]any{{"userId": u["userId"], "roles": []string{"AlgoDeveloper"}}}}, 201)
	member := added["members"].([]any)[0].(map[string]any)["memberId"].(string)
	for i := 0; i < 999; i++ {
		if i%2 == 0 {
			call(s, "POST", wsPath+"/members/"+member+"/roles/LabelManager", nil, 200)
		} else {
			call(s, "DELETE", wsPath+"/members/"+member+"/roles/LabelManager", nil, 200)
		}
	}
	st, evs := s.call(t, token, "GET", wsPath+"/events?types=workspace.member.changed&limit=1000", nil)
	if st != 200 || len(evs["items"].([]any)) != 1000 {
		t.Fatalf("outbox: %d %d events", st, len(evs["items"].([]any)))
	}
	s.kill9(t)
	t.Logf("1000 events queued and server killed after %s", time.Since(begin))

	rcv.start(t)
	defer rcv.srv.Close()
	s2 := startServer(t, nil, args...)
	restarted := time.Now()
	deadline := time.Now().Add(180 * time.Second)
	for {
		n, bad := rcv.count()
		if bad > 0 {
			t.Fatalf("%d deliveries with a bad signature", bad)
		}
		if n == 1000 {
			t.Logf("all delivered %s after the restart", time.Since(restarted))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 1000 events arrived\nlog:\n%.3000s", n, s2.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Each event id at least once; the receiver can dedupe by id.
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, ev := range evs["items"].([]any) {
		id := ev.(map[string]any)["id"].(string)
		if rcv.seen[id] == 0 {
			t.Fatalf("event %s never arrived", id)
		}
	}
}
