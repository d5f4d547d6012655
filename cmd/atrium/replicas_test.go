package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The fault tests of several replicas on one PostgreSQL (issue 9). They
// start real `atrium serve` processes sharing a database, a data directory
// (the local executor's pods, as a shared volume would) and a secret key.

type replicas struct {
	t       *testing.T
	args    []string
	env     []string
	dataDir string
	token   string
	nodes   []*server
}

func startReplicas(t *testing.T, n int, capacity string) *replicas {
	t.Helper()
	return startReplicasWith(t, n, capacity)
}

func startReplicasWith(t *testing.T, n int, capacity string, extra ...string) *replicas {
	t.Helper()
	base := os.Getenv("ATRIUM_TEST_POSTGRES")
	if base == "" {
		t.Skip("ATRIUM_TEST_POSTGRES is not set (scripts/postgres-up.sh prints a URL)")
	}
	dataDir := t.TempDir()
	r := &replicas{t: t, dataDir: dataDir,
		args: append([]string{"--data-dir", dataDir, "--database-url", freshPostgresDB(t, base), "--local-capacity", capacity}, extra...),
		env:  []string{"ATRIUM_SECRET_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xab}, 32))}}
	for i := range n {
		// Distinct machine names: a takeover then waits out the lease's
		// TTL, as between hosts, instead of seeing a dead local process.
		env := append([]string{fmt.Sprintf("ATRIUM_REPLICA_NAME=replica-%d", i)}, r.env...)
		r.nodes = append(r.nodes, startServer(t, env, r.args...))
	}
	raw, err := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	r.token = strings.TrimSpace(string(raw))
	return r
}

// leader returns the replica whose log says it leads now.
func (r *replicas) leader() *server {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range r.nodes {
			if s.cmd.ProcessState == nil && strings.Count(s.stderr.String(), "msg=leading") > strings.Count(s.stderr.String(), "msg=\"lost the lead\"") {
				return s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatal("no replica leads")
	return nil
}

// request is one API call without t.Fatal on transport errors (a replica
// may be dead): status 0 means no answer.
func request(url, token, method, path, ctype, body string) (int, http.Header, map[string]any) {
	req, err := http.NewRequest(method, url+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, nil
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, resp.Header, out
}

func (r *replicas) workspace(s *server) string {
	r.t.Helper()
	st, ws := s.call(r.t, r.token, "POST", "/api/v1/workspaces", map[string]any{"name": "faults", "envTypes": []string{"prod"}})
	if st != 201 {
		r.t.Fatalf("workspace: %d %v", st, ws)
	}
	return "/api/v1/workspaces/" + ws["workspaceId"].(string)
}

// allJobs lists every job of the workspace through s.
func allJobs(t *testing.T, s *server, token, wsPath string) []map[string]any {
	t.Helper()
	var out []map[string]any
	q := "?pageSize=500"
	for {
		st, _, l := request(s.url, token, "GET", wsPath+"/jobs"+q, "", "")
		if st != 200 {
			t.Fatalf("list jobs: %d %v", st, l)
		}
		for _, it := range l["items"].([]any) {
			out = append(out, it.(map[string]any))
		}
		next, _ := l["nextPageToken"].(string)
		if next == "" {
			return out
		}
		q = "?pageSize=500&pageToken=" + next
	}
}

// TestLeaderKilledMidPass: two replicas; the leader is killed with SIGKILL
// while jobs queue, run and finish; the other takes over, and afterwards
// every job ran exactly once, none is lost, and the capacity was never
// over-committed (two leaders admitting at once would show as more jobs
// running together than fit).
func TestLeaderKilledMidPass(t *testing.T) {
	r := startReplicas(t, 2, "cpu=3,memory=8Gi")
	wsPath := r.workspace(r.nodes[0])
	const jobs = 24
	spec := func(i int) string {
		return fmt.Sprintf("displayName: pass-%d\njobType: CustomJob\ncommand: echo ran $ATRIUM_JOB_ID; sleep 0.5\n"+
			"jobSpecs: [{type: Worker, podCount: 1, image: busybox, resources: {cpu: 1, memory: 256Mi}}]\n", i)
	}
	ids := map[string]bool{}
	for i := range jobs {
		s := r.nodes[i%2]
		st, _, j := request(s.url, r.token, "POST", wsPath+"/jobs", "application/yaml", spec(i))
		if st != 201 {
			t.Fatalf("submit %d: %d %v", i, st, j)
		}
		ids[j["jobId"].(string)] = true
	}
	// Kill the leader once some jobs have run and others wait.
	old := r.leader()
	for wait := time.Now().Add(60 * time.Second); ; {
		if time.Now().After(wait) {
			t.Fatalf("jobs do not run; leader log:\n%s", old.stderr)
		}
		done := 0
		for _, j := range allJobs(t, old, r.token, wsPath) {
			if j["status"] == "Succeeded" {
				done++
			}
		}
		if done >= 3 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var survivor *server
	for _, s := range r.nodes {
		if s != old {
			survivor = s
		}
	}
	// Logs of a job the leader ran, read through the other replica.
	for _, j := range allJobs(t, survivor, r.token, wsPath) {
		if j["status"] == "Succeeded" {
			st, l := survivor.callRaw(t, r.token, "GET", wsPath+"/jobs/"+j["jobId"].(string)+"/logs", "")
			if st != 200 || !strings.Contains(l["raw"].(string), "ran "+j["jobId"].(string)) {
				t.Errorf("logs through the replica that did not run the job: %d %v", st, l)
			}
			break
		}
	}
	old.kill9(t)
	killed := time.Now()
	if got := r.leader(); got != survivor {
		t.Fatal("the survivor does not lead")
	}
	took := time.Since(killed)
	t.Logf("takeover after %v", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("takeover took %v, more than 10 s", took)
	}

	deadline := time.Now().Add(90 * time.Second)
	var final []map[string]any
	for {
		final = allJobs(t, survivor, r.token, wsPath)
		ended := 0
		for _, j := range final {
			if j["status"] == "Succeeded" || j["status"] == "Failed" || j["status"] == "Stopped" {
				ended++
			}
		}
		if ended == jobs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs ended; survivor log:\n%s", ended, jobs, survivor.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(final) != jobs {
		t.Fatalf("%d jobs listed, %d submitted", len(final), jobs)
	}
	type span struct{ start, end time.Time }
	var spans []span
	for _, j := range final {
		id := j["jobId"].(string)
		if !ids[id] {
			t.Errorf("unknown job %s", id)
		}
		if j["status"] != "Succeeded" || j["attempt"].(float64) != 1 {
			t.Errorf("job %s: %s after %v attempts (%v)", id, j["status"], j["attempt"], j["reasonMessage"])
		}
		admitted := 0
		for _, h := range j["statusHistory"].([]any) {
			if h.(map[string]any)["status"] == "EnvPreparing" {
				admitted++
			}
		}
		if admitted != 1 {
			t.Errorf("job %s admitted %d times", id, admitted)
		}
		st, _ := time.Parse(time.RFC3339Nano, j["startedAt"].(string))
		en, _ := time.Parse(time.RFC3339Nano, j["finishedAt"].(string))
		spans = append(spans, span{st, en})
	}
	// At no instant did more jobs run than the 3 CPUs hold.
	sort.Slice(spans, func(a, b int) bool { return spans[a].start.Before(spans[b].start) })
	for i, s := range spans {
		running := 0
		for _, o := range spans[:i+1] {
			if o.end.After(s.start) {
				running++
			}
		}
		if running > 3 {
			t.Errorf("%d jobs ran at once at %s on 3 CPUs", running, s.start)
		}
	}
}

// TestReplicaKilledDuringSubmissions: 1,000 concurrent job submissions
// over two replicas, one killed with SIGKILL half-way: every submission
// answered 201 exists afterwards, exactly once.
func TestReplicaKilledDuringSubmissions(t *testing.T) {
	r := startReplicas(t, 2, "cpu=1,memory=1Gi")
	wsPath := r.workspace(r.nodes[0])
	const total, workers = 1000, 32
	var next, acked, refused atomic.Int64
	var mu sync.Mutex
	ackedIDs := map[string]string{} // displayName → job id
	victim := r.nodes[1]
	var kill sync.Once
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				if i == total/2 {
					kill.Do(func() { _ = victim.cmd.Process.Kill() })
				}
				s := r.nodes[(int(i)+w)%2]
				name := fmt.Sprintf("sub-%04d", i)
				// Jobs that never fit: they queue, so the test measures submissions only.
				body := "displayName: " + name + "\njobType: CustomJob\ncommand: 'true'\n" +
					"jobSpecs: [{type: Worker, podCount: 1, image: busybox, resources: {cpu: 1, memory: 64Gi}}]\n"
				st, _, j := request(s.url, r.token, "POST", wsPath+"/jobs", "application/yaml", body)
				switch st {
				case 201:
					acked.Add(1)
					mu.Lock()
					ackedIDs[name] = j["jobId"].(string)
					mu.Unlock()
				case 0:
					refused.Add(1) // the dead replica: no answer, nothing promised
				default:
					t.Errorf("submit %s to %s: %d %v", name, s.url, st, j)
				}
			}
		}()
	}
	wg.Wait()
	_ = victim.cmd.Wait()
	t.Logf("%d acknowledged, %d unanswered (sent to the killed replica)", acked.Load(), refused.Load())
	if acked.Load() < total/2 {
		t.Fatalf("only %d submissions acknowledged", acked.Load())
	}
	byName := map[string][]string{}
	for _, j := range allJobs(t, r.nodes[0], r.token, wsPath) {
		n := j["displayName"].(string)
		byName[n] = append(byName[n], j["jobId"].(string))
	}
	for name, id := range ackedIDs {
		switch got := byName[name]; {
		case len(got) != 1:
			t.Errorf("%s acknowledged as %s exists %d times: %v", name, id, len(got), got)
		case got[0] != id:
			t.Errorf("%s acknowledged as %s exists as %s", name, id, got[0])
		}
	}
	for name, got := range byName {
		if len(got) > 1 {
			t.Errorf("%s exists %d times", name, len(got))
		}
	}
}

// TestReplicasDeliverOnce: both replicas run alert delivery; events made
// through either arrive at the webhook exactly once each.
func TestReplicasDeliverOnce(t *testing.T) {
	rcv := &receiver{addr: freeAddr(t), secret: []byte("hook-secret"), seen: map[string]int{}}
	rcv.start(t)
	defer rcv.srv.Close()
	r := startReplicasWith(t, 2, "cpu=1,memory=1Gi", "--webhook-allow-cidr", "127.0.0.0/8")
	wsPath := r.workspace(r.nodes[0])
	st, out := r.nodes[0].call(t, r.token, "POST", wsPath+"/alert-rules", map[string]any{"name": "members",
		"eventTypes": []string{"workspace.member.changed"}, "scope": "All", "enabled": true,
		"targets": []map[string]any{{"type": "webhook", "url": "http://" + rcv.addr + "/hook", "secret": string(rcv.secret)}}})
	if st != 201 {
		t.Fatalf("rule: %d %v", st, out)
	}
	time.Sleep(3500 * time.Millisecond) // the engines refresh their rule caches every few seconds
	const members = 60
	for i := range members {
		s := r.nodes[i%2]
		st, u := s.call(t, r.token, "POST", "/api/v1/users", map[string]any{"name": fmt.Sprintf("user%02d", i), "password": "a long password"})
		if st != 201 {
			t.Fatalf("user: %d %v", st, u)
		}
		if st, out := s.call(t, r.token, "POST", wsPath+"/members", map[string]any{"members": []map[string]any{{"userId": u["userId"], "roles": []string{"WorkspaceGuest"}}}}); st != 201 {
			t.Fatalf("member: %d %v", st, out)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, bad := rcv.count()
		if bad > 0 {
			t.Fatalf("%d deliveries with a bad signature", bad)
		}
		if n >= members {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events arrived", n, members)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // a duplicate would come now
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for id, c := range rcv.seen {
		if c != 1 {
			t.Errorf("event %s delivered %d times", id, c)
		}
	}
	if len(rcv.seen) != members {
		t.Errorf("%d distinct events, want %d", len(rcv.seen), members)
	}
}
