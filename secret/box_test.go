package secret

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

func TestBox(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	b, err := NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("ghp_supersecrettoken")
	s1, s2 := b.Seal(plain, []byte("code-a")), b.Seal(plain, []byte("code-a"))
	if bytes.Equal(s1, s2) || bytes.Contains(s1, plain) {
		t.Fatal("sealing is not randomised or leaks the plaintext")
	}
	if got, err := b.Open(s1, []byte("code-a")); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := b.Open(s1, []byte("code-b")); err != ErrOpen {
		t.Fatal("a sealed value opened under another owner")
	}
	s1[len(s1)-1] ^= 1
	if _, err := b.Open(s1, []byte("code-a")); err != ErrOpen {
		t.Fatal("a tampered value opened")
	}
	other, _ := NewBox(bytes.Repeat([]byte{8}, KeySize))
	if _, err := other.Open(s2, []byte("code-a")); err != ErrOpen {
		t.Fatal("opened with another key")
	}
	if _, err := NewBox([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestLoadKey(t *testing.T) {
	t.Setenv(KeyEnv, "")
	dir := t.TempDir()
	k1, err := LoadKey(dir)
	if err != nil || len(k1) != KeySize {
		t.Fatal(k1, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "secret.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if k2, _ := LoadKey(dir); !bytes.Equal(k1, k2) {
		t.Fatal("key changed between loads")
	}
	env := bytes.Repeat([]byte{3}, KeySize)
	t.Setenv(KeyEnv, base64.StdEncoding.EncodeToString(env))
	if k, err := LoadKey(dir); err != nil || !bytes.Equal(k, env) {
		t.Fatal("env key not used")
	}
	t.Setenv(KeyEnv, "bm90IGEga2V5")
	if _, err := LoadKey(dir); err == nil {
		t.Fatal("bad env key accepted")
	}
}
