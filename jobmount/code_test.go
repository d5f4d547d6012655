package jobmount

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"atrium"
	"atrium/secret"
)

// gitServer serves a repository holding train.py over git's smart HTTP
// (git http-backend), only to Basic auth with the token.
func gitServer(t *testing.T, token string) string {
	t.Helper()
	root := t.TempDir()
	work := filepath.Join(t.TempDir(), "src")
	for _, args := range [][]string{
		{"init", "--quiet", "-b", "main", work},
		{"-C", work, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "--quiet", "--allow-empty", "-m", "init"},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %s", args, out)
		}
	}
	if err := os.WriteFile(filepath.Join(work, "train.py"), []byte("print('train')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-C", work, "add", "train.py"},
		{"-C", work, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "--quiet", "-m", "train"},
		{"clone", "--quiet", "--bare", work, filepath.Join(root, "repo.git")},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %s", args, out)
		}
	}
	backend := &cgi.Handler{Path: "/usr/lib/git-core/git-http-backend",
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pw, ok := r.BasicAuth(); !ok || pw != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "auth", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/repo.git"
}

func codeSource(t *testing.T, f fixture, box *secret.Box, owner *atrium.User, access, repo, token string) *atrium.Asset {
	t.Helper()
	spec, _ := json.Marshal(codeSpec{Repo: repo, Branch: "main"})
	a := &atrium.Asset{ID: atrium.NewID("code-"), WorkspaceID: f.ws.ID, Kind: atrium.AssetCodeSource, Name: "trainer" + strings.ToLower(atrium.NewID("")[:6]),
		Owner: owner.ID, OwnerName: owner.Name, Accessibility: access, Labels: map[string]string{}, Spec: spec}
	if token != "" {
		a.Secret = box.Seal([]byte(token), []byte(a.ID))
	}
	if err := f.db.CreateAsset(ctx, a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestCodeSourceCheckedOutReadOnly(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	f := setup(t)
	key := make([]byte, 32)
	rand.Read(key)
	box, err := secret.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	f.r.Secrets, f.r.CodeDir = box, t.TempDir()
	const token = "ghp_secret_token_42"
	repo := gitServer(t, token)
	job := func(id string, creator *atrium.User, a *atrium.Asset) *atrium.Job {
		return &atrium.Job{ID: id, WorkspaceID: f.ws.ID, Creator: creator.ID,
			Spec: atrium.JobSpec{CodeSource: &atrium.CodeSourceRef{CodeSourceID: a.ID, MountPath: "/root/code"}}}
	}

	cs := codeSource(t, f, box, f.alice, atrium.AccessPrivate, repo, token)
	m, err := f.r.Mounts(ctx, job("dlc-code", f.alice, cs))
	if err != nil {
		t.Fatalf("checkout: %v", err)
	}
	if len(m) != 1 || m[0].Target != "/root/code" || !m[0].ReadOnly || m[0].Env != EnvCodeDir {
		t.Fatalf("mounts: %+v", m)
	}
	if b, err := os.ReadFile(filepath.Join(m[0].Source, "train.py")); err != nil || string(b) != "print('train')\n" {
		t.Fatalf("checkout content: %q %v", b, err)
	}
	// Read-only for everyone: the pods mount it, the job's user may not
	// change it between attempts.
	for _, p := range []string{m[0].Source, filepath.Join(m[0].Source, "train.py")} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o222 != 0 || fi.Mode().Perm()&0o444 != 0o444 {
			t.Errorf("%s: mode %v %v, want readable by all and writable by none", p, fi.Mode(), err)
		}
	}
	cfg, _ := os.ReadFile(filepath.Join(m[0].Source, ".git", "config"))
	if bytes.Contains(cfg, []byte(token)) {
		t.Fatal("the access token was written into the checkout")
	}

	// bob may not use alice's PRIVATE code source, nor check out the
	// host's files or use SSH through a code source of his own.
	refused := map[string]*atrium.Job{
		"another's private":   job("dlc-b1", f.bob, cs),
		"file:// repo":        job("dlc-b2", f.bob, codeSource(t, f, box, f.bob, atrium.AccessPrivate, "file:///etc", "")),
		"ssh repo":            job("dlc-b3", f.bob, codeSource(t, f, box, f.bob, atrium.AccessPrivate, "git@github.com:org/repo.git", "")),
		"wrong token refused": job("dlc-b4", f.bob, codeSource(t, f, box, f.bob, atrium.AccessPrivate, repo, "wrong")),
	}
	for name, j := range refused {
		if m, err := f.r.Mounts(ctx, j); err == nil || !strings.Contains(err.Error(), "codeSource") || strings.Contains(err.Error(), token) {
			t.Errorf("%s: mounts %+v, err %v", name, m, err)
		}
	}
}

// A dataset another member keeps PRIVATE cannot be mounted by naming its
// id (ids leak through the operation log).
func TestPrivateDatasetOfAnotherIsRefused(t *testing.T) {
	f := setup(t)
	ds := &atrium.Asset{ID: atrium.NewID("d-"), WorkspaceID: f.ws.ID, Kind: atrium.AssetDataset, Name: "faces",
		Owner: f.alice.ID, OwnerName: "alice", Accessibility: atrium.AccessPrivate, Labels: map[string]string{}, Spec: json.RawMessage(`{}`)}
	if err := f.db.CreateAsset(ctx, ds); err != nil {
		t.Fatal(err)
	}
	j := &atrium.Job{ID: "dlc-d", WorkspaceID: f.ws.ID, Creator: f.bob.ID,
		Spec: atrium.JobSpec{DataSources: []atrium.DataSource{{DatasetID: ds.ID, MountPath: "/mnt/data"}}}}
	if m, err := f.r.Mounts(ctx, j); err == nil || !strings.Contains(err.Error(), "dataSources[0]") {
		t.Fatalf("mounts %+v, err %v", m, err)
	}
}
