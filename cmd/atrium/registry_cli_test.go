package main

import (
	"crypto/rand"
	"strings"
	"testing"

	"atrium/secret"
)

// TestRegistryCLI: registry create --password-stdin|list|get|update|delete;
// the password is read from stdin only and never printed; errors name the
// field and the rule.
func TestRegistryCLI(t *testing.T) {
	e := newTestEnv(t)
	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	box, err := secret.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	e.api.Secrets = box
	e.ok("login", "--server", e.url, "--token-file", e.tokenFile)
	const pw, pw2 = "cli-Registry-Secret-1", "cli-Registry-Secret-2"
	var outputs []string
	run := func(stdin string, args ...string) string {
		t.Helper()
		out, errOut, err := e.run(stdin, args...)
		if err != nil {
			t.Fatalf("atrium %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
		outputs = append(outputs, out, errOut)
		return out
	}

	out := run(pw+"\n", "registry", "create", "corp", "--host", "registry.example.com:5000", "--username", "puller", "--password-stdin",
		"--description", "company images")
	contains(t, out, "Registered registry corp", "registry.example.com:5000", "password set: true")
	run("", "registry", "create", "lab", "--host", "127.0.0.1:5001", "--insecure")
	out = run("", "registry", "list")
	contains(t, out, "corp", "puller", "lab", "127.0.0.1:5001")
	out = run("", "registry", "get", "corp")
	contains(t, out, "Username:", "puller", "Password set:", "true", "company images")
	out = run(pw2+"\n", "registry", "update", "corp", "--password-stdin", "--insecure")
	contains(t, out, "Insecure:", "true")
	out = run("", "registry", "get", "corp", "-o", "json")
	contains(t, out, `"hasPassword": true`, `"insecure": true`)
	out = run("", "registry", "update", "corp", "--clear-credentials")
	contains(t, out, "Password set:", "false")

	// Errors say what is wrong, with the field, and nothing happens.
	errOut := e.fails("", "registry", "create", "bad", "--host", "https://registry.example.com")
	contains(t, errOut, "host", "scheme")
	errOut = e.fails("", "registry", "create", "nopw", "--host", "x.example.com", "--username", "u")
	contains(t, errOut, "not a terminal", "--password-stdin")
	errOut = e.fails("\n", "registry", "create", "nopw", "--host", "x.example.com", "--username", "u", "--password-stdin")
	contains(t, errOut, "password line is empty")
	errOut = e.fails("", "registry", "get", "nosuch")
	contains(t, errOut, `no registry "nosuch"`)
	errOut = e.fails("", "registry", "update", "corp")
	contains(t, errOut, "nothing to change")
	if f := newRootCmd(); f != nil {
		c, _, err := f.Find([]string{"registry", "create"})
		if err != nil || c.Flags().Lookup("password") != nil {
			t.Fatalf("registry create must have no flag carrying the secret (%v)", err)
		}
	}

	run("", "registry", "delete", "lab", "--yes")
	out = run("", "registry", "list", "-o", "json")
	if strings.Contains(out, `"lab"`) {
		t.Fatalf("lab still listed:\n%s", out)
	}
	for _, o := range outputs {
		if strings.Contains(o, pw) || strings.Contains(o, pw2) {
			t.Fatalf("a password was printed:\n%s", o)
		}
	}
}
