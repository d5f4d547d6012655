package httpapi

import (
	"context"
	"net/http/httptest"
	"testing"
)

// TestServerInfo: any signed-in user reads what jobs run in; process mode
// (the default) says they are not isolated, with the console's sentence,
// container mode that they are. The client reads the same.
func TestServerInfo(t *testing.T) {
	f := setup(t)
	_, tok := f.user(t, "nina")
	if r := f.do(t, "", "GET", "/api/v1/server", nil); r.status != 401 {
		t.Fatalf("anonymous: %d", r.status)
	}
	var got ServerInfo
	r := f.do(t, tok, "GET", "/api/v1/server", nil)
	r.decode(t, &got)
	if r.status != 200 || got != (ServerInfo{Runtime: "process", Isolated: false, Notice: NotIsolatedNotice}) {
		t.Fatalf("process mode: %d %s", r.status, r.body)
	}
	f.api.Runtime = RuntimeContainer
	srv := httptest.NewServer(f.api)
	defer srv.Close()
	info, err := NewClient(srv.URL, tok).ServerInfo(context.Background())
	if err != nil || *info != (ServerInfo{Runtime: "container", Isolated: true}) {
		t.Fatalf("container mode: %+v %v", info, err)
	}
}
