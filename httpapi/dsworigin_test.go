package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"atrium"
)

// TestDSWHandoff: a handoff opens the instance once, within its minute,
// for whom the authorizer allows; the session it gives is for that
// instance alone, bounded in time, and every request asks the authorizer
// again.
func TestDSWHandoff(t *testing.T) {
	df := newDSWFixture(t)
	j := df.create(t, df.alice, map[string]any{"displayName": "notebook"})
	df.waitStatus(t, j.ID, atrium.JobRunning, 20*time.Second)
	other := df.create(t, df.alice, map[string]any{"displayName": "other"})
	df.waitStatus(t, other.ID, atrium.JobRunning, 20*time.Second)
	base := df.dsw.URL + "/i/" + j.ID + "/"

	// Single use: a second redemption, even by the same browser, is refused.
	h := df.handoff(t, df.alice, j.ID)
	if !strings.HasPrefix(h.URL, df.dsw.URL+"/handoff?token=") || h.InstanceID != j.ID || h.ExpiresAt.Sub(time.Now()) > time.Minute {
		t.Fatalf("handoff %+v", h)
	}
	b := browser()
	resp := get(t, b, h.URL)
	if resp.status != http.StatusSeeOther {
		t.Fatalf("first redemption: %d %s", resp.status, resp.body)
	}
	ck := parseSetCookie(t, resp.header)
	if ck.Name != dswCookie || ck.Path != "/i/"+j.ID+"/" || ck.Domain != "" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure ||
		ck.MaxAge != int(dswSessionTTL.Seconds()) {
		t.Errorf("session cookie %+v: want host-only, path /i/%s/, HttpOnly, SameSite=Lax, not Secure over http", ck, j.ID)
	}
	if resp = get(t, b, h.URL); resp.status != http.StatusUnauthorized || !strings.Contains(string(resp.body), "already used or has expired") {
		t.Fatalf("second redemption: %d %s", resp.status, resp.body)
	}
	if resp = get(t, browser(), df.dsw.URL+"/handoff?token=atr_made-up"); resp.status != http.StatusUnauthorized {
		t.Fatalf("a made-up token: %d %s", resp.status, resp.body)
	}
	if resp = df.instanceGet(t, b, j.ID, ""); resp.status != http.StatusOK {
		t.Fatalf("with the session: %d %s", resp.status, resp.body)
	}
	req, _ := http.NewRequest("TRACE", base, nil)
	if r, err := b.Do(req); err != nil || r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("TRACE is forwarded: %v %v", r, err)
	} else {
		r.Body.Close()
	}

	// No session, or one for another instance, opens nothing.
	if resp = get(t, browser(), base); resp.status != http.StatusUnauthorized || !strings.Contains(string(resp.body), "atrium dsw open "+j.ID) {
		t.Fatalf("without a session: %d %s", resp.status, resp.body)
	}
	if resp = get(t, b, df.dsw.URL+"/i/"+other.ID+"/"); resp.status != http.StatusUnauthorized {
		t.Fatalf("another instance with this one's session: %d %s", resp.status, resp.body)
	}
	stolen := sessionValue(t, b, df.dsw.URL, j.ID)
	for name, v := range map[string]string{
		"another instance's path": stolen, // the cookie says which instance it is for
		"a forged signature":      stolen[:strings.Index(stolen, ".")+1] + "AAAA",
	} {
		req, _ := http.NewRequest("GET", df.dsw.URL+"/i/"+other.ID+"/", nil)
		if name == "a forged signature" {
			req.URL.Path = "/i/" + j.ID + "/"
		}
		req.AddCookie(&http.Cookie{Name: dswCookie, Value: v})
		r, err := http.DefaultClient.Do(req)
		must(t, err)
		r.Body.Close()
		if r.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d", name, r.StatusCode)
		}
	}

	// Expiry: a handoff redeemed after its minute is refused (the store's
	// clock decides, as it does for every replica).
	h = df.handoff(t, df.alice, j.ID)
	df.store.(interface{ SetNow(func() time.Time) }).SetNow(func() time.Time { return time.Now().Add(dswHandoffTTL + time.Second) })
	if resp = get(t, browser(), h.URL); resp.status != http.StatusUnauthorized {
		t.Fatalf("an expired handoff: %d %s", resp.status, resp.body)
	}
	df.store.(interface{ SetNow(func() time.Time) }).SetNow(nil)
	// …and a session after its hours.
	df.api.Now = func() time.Time { return time.Now().Add(dswSessionTTL + time.Minute) }
	if resp = get(t, b, base); resp.status != http.StatusUnauthorized {
		t.Fatalf("an expired session: %d %s", resp.status, resp.body)
	}
	df.api.Now = time.Now

	// Authorization: minting takes DSW:UpdateInstance (a guest and another
	// developer may not open a PRIVATE instance they cannot even see, nor
	// use a PUBLIC one they can), and so does every request after.
	for name, tok := range map[string]string{"guest": df.guest, "bob": df.bob} {
		if resp = df.do(t, tok, "POST", df.path("/"+j.ID+"/handoff"), nil); resp.status != http.StatusNotFound {
			t.Errorf("%s's handoff to a PRIVATE instance: %d %s", name, resp.status, resp.body)
		}
	}
	if resp = df.do(t, df.alice, "PUT", df.path("/"+j.ID), map[string]any{"accessibility": "PUBLIC"}); resp.status != 200 {
		t.Fatalf("publish: %d %s", resp.status, resp.body)
	}
	for name, tok := range map[string]string{"guest": df.guest, "bob": df.bob} {
		if resp = df.do(t, tok, "POST", df.path("/"+j.ID+"/handoff"), nil); resp.status != http.StatusForbidden || resp.problem(t).Permission != dswOpenCode {
			t.Errorf("%s's handoff to a PUBLIC instance: %d %s", name, resp.status, resp.body)
		}
	}
	// Alice leaves the workspace: her open handoff and her session stop working.
	h = df.handoff(t, df.alice, j.ID)
	alice, err := df.store.FindUserByName(context.Background(), "alice")
	must(t, err)
	m, err := df.store.FindMemberByUser(context.Background(), df.ws.ID, alice.ID)
	must(t, err)
	must(t, df.store.DeleteMember(context.Background(), df.ws.ID, m.ID))
	if resp = get(t, browser(), h.URL); resp.status != http.StatusNotFound {
		t.Errorf("a handoff redeemed after its user left: %d %s", resp.status, resp.body)
	}
	if resp = get(t, b, base); resp.status != http.StatusNotFound {
		t.Errorf("a session after its user left: %d %s", resp.status, resp.body)
	}
}

// TestDSWOriginConfig: the DSW origin's URL is an origin; allow-same-origin
// is refused where it would share the console's cookies, and given
// (with Secure cookies over https) where the operator vouches it does not.
func TestDSWOriginConfig(t *testing.T) {
	f := setup(t)
	key := []byte("0123456789abcdef")
	for _, bad := range []string{"", "ftp://x", "http://", "http://h/path", "http://h?q=1", "http://u:p@h", "127.0.0.1:8081"} {
		if _, err := NewDSWOrigin(f.api, DSWOriginConfig{URL: bad, Key: key}); atrium.ErrorCode(err) != atrium.EINVALID || atrium.AsError(err).Field != "url" {
			t.Errorf("URL %q: %v", bad, err)
		}
	}
	if _, err := NewDSWOrigin(f.api, DSWOriginConfig{URL: "http://h", Key: key[:8]}); err == nil {
		t.Error("a short key was accepted")
	}
	for _, shared := range []string{"http://127.0.0.1:8081", "http://localhost:8081", "https://dsw.localhost", "http://[::1]:8081"} {
		_, err := NewDSWOrigin(f.api, DSWOriginConfig{URL: shared, Key: key, SameOrigin: true})
		if e := atrium.AsError(err); e == nil || e.Field != "sameOrigin" {
			t.Errorf("same-origin pages on %s: %v", shared, err)
		}
	}
	o, err := NewDSWOrigin(f.api, DSWOriginConfig{URL: "https://dsw.example.net/", Key: key, SameOrigin: true})
	must(t, err)
	if o.URL() != "https://dsw.example.net" || f.api.DSW != o || !o.secure || !strings.HasPrefix(o.csp, dswSandbox+" allow-same-origin;") {
		t.Errorf("origin %+v", o)
	}
}

func parseSetCookie(t *testing.T, h http.Header) *http.Cookie {
	t.Helper()
	cks := (&http.Response{Header: h}).Cookies()
	if len(cks) != 1 {
		t.Fatalf("Set-Cookie %q", h.Values("Set-Cookie"))
	}
	return cks[0]
}

// sessionValue is the session cookie browser b holds for the instance.
func sessionValue(t *testing.T, b *http.Client, base, id string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/i/"+id+"/", nil)
	for _, ck := range b.Jar.Cookies(req.URL) {
		if ck.Name == dswCookie {
			return ck.Value
		}
	}
	t.Fatalf("no %s cookie for %s", dswCookie, id)
	return ""
}
