package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"atrium"
	"atrium/secret"
)

// registryWorld gives the world a registry to read, change and delete.
func (f *fixture) registryWorld(t *testing.T, w *world, n int) {
	t.Helper()
	w.registry = &atrium.Registry{Name: fmt.Sprintf("reg%d", n), Host: fmt.Sprintf("r%d.example.com", n)}
	if err := f.store.CreateRegistry(context.Background(), w.registry); err != nil {
		t.Fatal(err)
	}
}

// Registries are registered by ResourceAdmin alone; every signed-in user
// lists them (names and hosts).
func registryMatrixCases() []matrixCase {
	one := func(w *world, s *subject) string { return "/api/v1/registries/" + w.registry.ID }
	return []matrixCase{
		{method: "POST", path: "/api/v1/registries", path_: func(*world, *subject) string { return "/api/v1/registries" },
			body: func(w *world, s *subject) any {
				return map[string]any{"name": "new-" + s.name + "-" + w.ws.Name[7:], "host": s.name + w.ws.Name[7:] + ".example.com:5000"}
			}, want: platform(201)},
		{method: "GET", path: "/api/v1/registries", path_: func(*world, *subject) string { return "/api/v1/registries" }, want: anyone(200)},
		{method: "GET", path: "/api/v1/registries/{registryId}", path_: one, want: platform(200)},
		{method: "PUT", path: "/api/v1/registries/{registryId}", path_: one,
			body: func(*world, *subject) any { return map[string]any{"description": "changed", "insecure": true} }, want: platform(200)},
		{method: "DELETE", path: "/api/v1/registries/{registryId}", path_: one, want: platform(204)},
	}
}

// TestRegistries: a ResourceAdmin registers a registry with a password
// that is sealed and never shown; input errors name the field and the
// rule; developers list names and hosts but no usernames and cannot read,
// change or delete a registry; no response, server log line or operation
// log line ever holds the password.
func TestRegistries(t *testing.T) {
	f := setup(t)
	key := make([]byte, secret.KeySize)
	rand.Read(key)
	var err error
	if f.api.Secrets, err = secret.NewBox(key); err != nil {
		t.Fatal(err)
	}
	_, ra := f.user(t, "root", atrium.RoleResourceAdmin)
	_, dev := f.user(t, "dev")
	const pw1, pw2 = "first-Registry-Passw0rd", "second-registry-token-XYZ"
	var bodies []string
	call := func(tok, method, path string, body any, want int) response {
		t.Helper()
		r := f.do(t, tok, method, path, body)
		bodies = append(bodies, string(r.body))
		if r.status != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.body, want)
		}
		return r
	}

	var v RegistryView
	call(ra, "POST", "/api/v1/registries", map[string]any{"name": "corp", "host": "Registry.Example.com:5000", "username": "puller",
		"password": pw1, "description": "the company registry"}, 201).decode(t, &v)
	if !strings.HasPrefix(v.RegistryID, atrium.PrefixRegistry) || v.Host != "registry.example.com:5000" || v.Username != "puller" ||
		!v.HasPassword || v.Insecure {
		t.Fatalf("created %+v", v)
	}
	one := "/api/v1/registries/" + v.RegistryID

	// Input errors: 400 naming the field and the rule; conflicts 409.
	for _, c := range []struct {
		body        map[string]any
		status      int
		field, rule string
	}{
		{map[string]any{"name": "x1", "host": "https://registry.example.com"}, 400, "host", "scheme"},
		{map[string]any{"name": "x1", "host": "registry.example.com/team"}, 400, "host", "path"},
		{map[string]any{"name": "x1", "host": "registry.example.com:99999"}, 400, "host", "port"},
		{map[string]any{"name": "x1", "host": "reg_istry.example.com"}, 400, "host", "host name"},
		{map[string]any{"name": "x1", "host": "localhost"}, 400, "host", "never pulled"},
		{map[string]any{"name": "x1", "host": ""}, 400, "host", "required"},
		{map[string]any{"name": "X 1", "host": "a.example.com"}, 400, "name", "lowercase"},
		{map[string]any{"name": "x1", "host": "a.example.com", "username": "u"}, 400, "password", "required with a username"},
		{map[string]any{"name": "x1", "host": "a.example.com", "password": "p"}, 400, "username", "required with a password"},
		{map[string]any{"name": "x1", "host": "a.example.com", "username": "a:b", "password": "p"}, 400, "username", "':'"},
		{map[string]any{"name": "x1", "host": "a.example.com", "password": strings.Repeat("p", 5000), "username": "u"}, 400, "password", "4096"},
		{map[string]any{"name": "x1", "host": "a.example.com", "description": strings.Repeat("d", 81)}, 400, "description", "80"},
		{map[string]any{"name": "x1", "host": "a.example.com", "secret": "x"}, 400, "secret", ""},
		{map[string]any{"name": "corp", "host": "a.example.com"}, 409, "name", "already registered"},
		{map[string]any{"name": "x1", "host": "REGISTRY.example.com:5000"}, 409, "host", "registry \"corp\""},
	} {
		p := call(ra, "POST", "/api/v1/registries", c.body, c.status).problem(t)
		if p.Field != c.field || !strings.Contains(p.Detail, c.rule) {
			t.Errorf("%v: field %q detail %q, want field %q and %q", c.body, p.Field, p.Detail, c.field, c.rule)
		}
	}
	call(ra, "POST", "/api/v1/registries", map[string]any{"name": "mirror", "host": "127.0.0.1:5001", "insecure": true}, 201)

	// Developers list names and hosts, never usernames; the rest is ResourceAdmin's.
	var l List[*RegistryView]
	call(dev, "GET", "/api/v1/registries", nil, 200).decode(t, &l)
	if l.TotalCount != 2 || l.Items[0].Name != "corp" || l.Items[0].Username != "" || !l.Items[0].HasPassword ||
		l.Items[1].Name != "mirror" || !l.Items[1].Insecure || strings.Contains(bodies[len(bodies)-1], "puller") {
		t.Fatalf("developer's list: %s", bodies[len(bodies)-1])
	}
	call(ra, "GET", "/api/v1/registries", nil, 200).decode(t, &l)
	if l.Items[0].Username != "puller" {
		t.Fatalf("ResourceAdmin's list: %s", bodies[len(bodies)-1])
	}
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		if p := call(dev, m, one, map[string]any{"password": pw2}, 403).problem(t); !strings.Contains(p.Permission, "Registry:") {
			t.Errorf("%s as developer: %+v", m, p)
		}
	}
	call(ra, "GET", "/api/v1/registries/reg-nosuch", nil, 404)

	// Updates: a new password; the credentials go together; clearing both.
	call(ra, "PUT", one, map[string]any{"password": pw2, "insecure": true}, 200).decode(t, &v)
	if !v.HasPassword || !v.Insecure || v.Username != "puller" {
		t.Fatalf("updated %+v", v)
	}
	stored, err := f.store.FindRegistryByID(context.Background(), v.RegistryID)
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := f.api.Secrets.Open(stored.Password, []byte(v.RegistryID)); err != nil || string(plain) != pw2 {
		t.Fatalf("the sealed password opens to %q, %v", plain, err)
	}
	if p := call(ra, "PUT", one, map[string]any{"password": ""}, 400).problem(t); p.Field != "password" {
		t.Errorf("clearing only the password: %+v", p)
	}
	if p := call(ra, "PUT", one, map[string]any{"host": "ftp://x"}, 400).problem(t); p.Field != "host" {
		t.Errorf("a bad host: %+v", p)
	}
	if p := call(ra, "PUT", one, map[string]any{"host": "127.0.0.1:5001"}, 409).problem(t); p.Field != "host" {
		t.Errorf("a taken host: %+v", p)
	}
	v = RegistryView{}
	call(ra, "PUT", one, map[string]any{"username": "", "password": ""}, 200).decode(t, &v)
	if v.HasPassword || v.Username != "" {
		t.Fatalf("cleared %+v", v)
	}
	call(ra, "PUT", one, map[string]any{"username": "puller", "password": pw1}, 200)
	call(ra, "GET", one, nil, 200)

	// Without a secret key the server refuses passwords, not registries.
	box := f.api.Secrets
	f.api.Secrets = nil
	if p := call(ra, "POST", "/api/v1/registries", map[string]any{"name": "nokey", "host": "k.example.com", "username": "u", "password": pw1}, 503).problem(t); !strings.Contains(p.Detail, "secret key") {
		t.Errorf("without a key: %+v", p)
	}
	f.api.Secrets = box

	// Every write is in the platform operation log, naming the registry.
	logs, _, err := f.store.FindOperationLogs(context.Background(), atrium.OperationLogFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]bool{}
	for _, l := range logs {
		if l.Target == v.RegistryID && l.Result == atrium.ResultSucceeded {
			actions[l.Action] = true
		}
	}
	if !actions["Registry:CreateRegistry"] || !actions["Registry:UpdateRegistry"] {
		t.Errorf("operation log: %v", actions)
	}
	call(ra, "DELETE", one, nil, 204)
	call(ra, "DELETE", one, nil, 404)

	b, _ := json.Marshal(logs)
	for _, s := range []string{pw1, pw2} {
		for i, body := range bodies {
			if strings.Contains(body, s) {
				t.Errorf("response %d holds a password: %s", i, body)
			}
		}
		if strings.Contains(f.logs.String(), s) {
			t.Error("the server log holds a password")
		}
		if strings.Contains(string(b), s) {
			t.Error("the operation log holds a password")
		}
	}
}
