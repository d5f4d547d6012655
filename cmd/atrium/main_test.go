package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain runs the tests' servers in process mode unless a test asks for
// containers (--runtime podman): their jobs name images that exist only
// as words, and CI has podman installed. As "dsw-evil" the test binary is
// the malicious notebook of the DSW origin's browser test.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "dsw-evil" {
		os.Exit(serveEvilNotebook())
	}
	if os.Getenv("ATRIUM_RUNTIME") == "" {
		os.Setenv("ATRIUM_RUNTIME", "process")
	}
	os.Exit(m.Run())
}

// podReachable copies the test binary where process mode's pod user
// (nobody) may run it: go test builds it in a private directory.
func podReachable(t *testing.T, bin string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "atrium-testbin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	b, err := os.ReadFile(bin)
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	dst := filepath.Join(dir, filepath.Base(bin))
	if err == nil {
		err = os.WriteFile(dst, b, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dst
}
