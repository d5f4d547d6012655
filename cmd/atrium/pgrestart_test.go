package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// privatePostgres is a PostgreSQL cluster of this test alone (initdb in a
// temporary directory, its own port), so the test may stop and start it
// without disturbing the suite's shared server.
type privatePostgres struct {
	t        *testing.T
	bin, dir string
	port     string
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	if os.Getenv("ATRIUM_TEST_POSTGRES") == "" {
		t.Skip("ATRIUM_TEST_POSTGRES is not set: PostgreSQL fault tests are off")
	}
	bin := "/usr/lib/postgresql/15/bin"
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil || os.Geteuid() != 0 {
		t.Skip("a private PostgreSQL cluster needs root and " + bin + "/initdb")
	}
	dir, err := os.MkdirTemp("", "atrium-pg-")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(freeAddr(t), ":")
	p := &privatePostgres{t: t, bin: bin, dir: dir, port: port}
	t.Cleanup(func() {
		_ = p.asPostgres("pg_ctl", "-D", p.data(), "-m", "immediate", "stop")
		_ = os.RemoveAll(dir)
	})
	if out, err := exec.Command("chown", "-R", "postgres:postgres", dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	if err := p.asPostgres("initdb", "-D", p.data(), "-A", "trust", "-U", "postgres", "--no-sync"); err != nil {
		t.Fatal(err)
	}
	p.start()
	return p
}

func (p *privatePostgres) data() string { return filepath.Join(p.dir, "data") }

func (p *privatePostgres) url() string {
	return "postgres://postgres@127.0.0.1:" + p.port + "/postgres?sslmode=disable"
}

func (p *privatePostgres) asPostgres(tool string, args ...string) error {
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(p.bin, tool)}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return nil
}

func (p *privatePostgres) start() {
	p.t.Helper()
	opts := fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1", p.port, p.dir)
	if err := p.asPostgres("pg_ctl", "-D", p.data(), "-o", opts, "-l", filepath.Join(p.dir, "log"), "-w", "start"); err != nil {
		p.t.Fatal(err)
	}
}

// stop shuts the server down the fast way: connections are cut, as when
// it crashes or is restarted by an operator.
func (p *privatePostgres) stop() {
	p.t.Helper()
	if err := p.asPostgres("pg_ctl", "-D", p.data(), "-m", "fast", "-w", "stop"); err != nil {
		p.t.Fatal(err)
	}
}

// TestPostgresRestartUnderLoad: while clients create workspaces through
// the API, PostgreSQL goes down for a few seconds and comes back. During
// the outage the API answers 503 with Retry-After (never 500), it recovers
// without a restart of Atrium, and every creation it acknowledged exists.
func TestPostgresRestartUnderLoad(t *testing.T) {
	pg := startPrivatePostgres(t)
	dataDir := t.TempDir()
	s := startServer(t, nil, "--data-dir", dataDir, "--database-url", pg.url(), "--local-capacity", "cpu=1,memory=1Gi")
	token := strings.TrimSpace(readFile(t, filepath.Join(dataDir, "admin.token")))

	var (
		mu       sync.Mutex
		acked    []string
		statuses = map[int]int{}
		retry    atomic.Int64 // 503s carrying Retry-After
		stop     atomic.Bool
		n        atomic.Int64
		wg       sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				name := fmt.Sprintf("ws_%05d", n.Add(1))
				st, h, ws := request(s.url, token, "POST", "/api/v1/workspaces", "application/json",
					`{"name":"`+name+`","envTypes":["prod"]}`)
				mu.Lock()
				statuses[st]++
				if st == 201 {
					acked = append(acked, ws["workspaceId"].(string))
				}
				mu.Unlock()
				if st == 503 && h.Get("Retry-After") != "" {
					retry.Add(1)
				}
				if st != 201 {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				stop.Store(true)
				wg.Wait()
				t.Fatalf("waiting for %s; statuses %v\nserver log:\n%s", what, statuses, s.stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	count := func(st int) int { mu.Lock(); defer mu.Unlock(); return statuses[st] }
	waitFor("writes before the outage", func() bool { return count(201) >= 50 })
	pg.stop()
	waitFor("503s during the outage", func() bool { return retry.Load() >= 20 })
	outage := count(201)
	time.Sleep(2 * time.Second)
	pg.start()
	waitFor("writes after the outage", func() bool { return count(201) >= outage+50 })
	stop.Store(true)
	wg.Wait()
	t.Logf("answers: %v (%d 503s with Retry-After)", statuses, retry.Load())
	for st, c := range statuses {
		if st != 201 && st != 503 {
			t.Errorf("%d answers with status %d (want only 201 and 503)", c, st)
		}
	}
	for _, id := range acked {
		if st, _, ws := request(s.url, token, "GET", "/api/v1/workspaces/"+id, "", ""); st != 200 {
			t.Errorf("acknowledged workspace %s: %d %v", id, st, ws)
		}
	}
	if st, _, _ := request(s.url, token, "GET", "/readyz", "", ""); st != 200 {
		t.Errorf("readyz after the outage: %d", st)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
