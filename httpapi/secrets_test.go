package httpapi

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"atrium"
	"atrium/secret"
)

// TestSecretsNeverLeak runs a full session and then searches every log line
// and every API response for the passwords and tokens used in it. Only the
// one response that mints a token may carry that token.
func TestSecretsNeverLeak(t *testing.T) {
	f := setup(t)
	_, ra := f.user(t, "root", atrium.RoleResourceAdmin)
	const pw, pw2 = "first secret passphrase", "second secret passphrase"
	secrets := []string{ra, pw, pw2}
	var responses []string
	call := func(token, method, path string, body any) response {
		r := f.do(t, token, method, path, body)
		responses = append(responses, string(r.body))
		return r
	}

	var u atrium.User
	call(ra, "POST", "/api/v1/users", map[string]any{"name": "alice", "password": pw}).decode(t, &u)
	call(ra, "PUT", "/api/v1/users/"+u.ID, map[string]any{"password": pw2})
	// Failed and successful logins with both passwords.
	var minted []string
	for _, p := range []string{pw, pw2} {
		req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/auth/tokens", strings.NewReader(`{"name":"cli"}`))
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:"+p)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 201 {
			var ct CreatedToken
			(response{body: b}).decode(t, &ct)
			minted = append(minted, ct.Token)
		} else {
			responses = append(responses, string(b))
		}
	}
	if len(minted) != 1 {
		t.Fatalf("want exactly the new password to work, minted %d tokens", len(minted))
	}
	tok := minted[0]
	secrets = append(secrets, tok)
	var w atrium.Workspace
	call(ra, "POST", "/api/v1/workspaces", map[string]any{"name": "leaky", "envTypes": []string{"prod"}}).decode(t, &w)
	call(ra, "POST", "/api/v1/workspaces/"+w.ID+"/members", map[string]any{"members": []map[string]any{{"userId": u.ID, "roles": []string{"AlgoDeveloper"}}}})
	call(tok, "GET", "/api/v1/workspaces/"+w.ID, nil)
	call(tok, "POST", "/api/v1/workspaces/"+w.ID+"/members", map[string]any{"members": []any{}}) // denied
	call(tok, "GET", "/api/v1/auth/tokens", nil)
	call(tok, "GET", "/api/v1/users/me", nil)
	call(ra, "GET", "/api/v1/users", nil)
	call(ra, "GET", "/api/v1/operation-logs", nil)
	call(tok, "GET", "/api/v1/workspaces/"+w.ID+"/operation-logs", nil)
	call("atr_"+strings.Repeat("x", 40), "GET", "/api/v1/workspaces", nil) // a wrong token

	// Hashes are stored, never the secrets themselves.
	stored, err := f.store.FindUserByID(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := secret.CheckPassword(stored.PasswordHash, pw2); !ok || strings.Contains(stored.PasswordHash, pw2) {
		t.Fatal("password not stored as an argon2id hash")
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "route=/api/v1/auth/tokens") {
		t.Fatalf("the log does not cover the session:\n%s", logs)
	}
	for _, s := range append(secrets, stored.PasswordHash, secret.HashToken(tok)) {
		if strings.Contains(logs, s) {
			t.Errorf("a secret appears in the logs: %.8s…", s)
		}
		for _, r := range responses {
			if strings.Contains(r, s) {
				t.Errorf("a secret appears in an API response: %.8s… in %.200s", s, r)
			}
		}
	}
}
