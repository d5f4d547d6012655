package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"atrium"
)

func newAsset(ws *atrium.Workspace, kind, name, owner string) *atrium.Asset {
	return &atrium.Asset{
		WorkspaceID: ws.ID, Kind: kind, Name: name, Description: "about " + name,
		Owner: owner, OwnerName: "Name of " + owner, Accessibility: atrium.AccessPrivate,
		Labels: map[string]string{"team": "nlp"},
		Spec:   json.RawMessage(`{"dataType":"COMMON","uri":"oss://bucket/` + name + `"}`),
	}
}

func mustAsset(t *testing.T, s atrium.Store, a *atrium.Asset) *atrium.Asset {
	t.Helper()
	if err := s.CreateAsset(ctx, a); err != nil {
		t.Fatalf("CreateAsset(%s %s): %v", a.Kind, a.Name, err)
	}
	return a
}

func mustFindAsset(t *testing.T, s atrium.Store, id string) *atrium.Asset {
	t.Helper()
	a, err := s.FindAssetByID(ctx, id)
	if err != nil {
		t.Fatalf("FindAssetByID(%s): %v", id, err)
	}
	return a
}

func mustAssetVersion(t *testing.T, s atrium.Store, v *atrium.AssetVersion) *atrium.AssetVersion {
	t.Helper()
	if err := s.CreateAssetVersion(ctx, v); err != nil {
		t.Fatalf("CreateAssetVersion(%s %s): %v", v.AssetID, v.Name, err)
	}
	return v
}

func assetIDs(as []*atrium.Asset) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

func versionNames(vs []*atrium.AssetVersion) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

func testAssets(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w, other := mustWorkspace(t, s, "vision", alice), mustWorkspace(t, s, "speech", alice)

	// A code source with every field, a secret and a spec with spaces.
	token := []byte("ghp_secret-token\x00\xff")
	a := newAsset(w, atrium.AssetCodeSource, "repo", alice.ID)
	a.Labels = map[string]string{"team": "nlp", "a.b": "x y", "empty": ""}
	a.Spec = json.RawMessage(` { "repo": "https://git.example.com/r.git",  "branch": "main", "n": [1, 2.5, null] } `)
	a.Secret = token
	mustAsset(t, s, a)
	if !atrium.HasPrefix(a.ID, atrium.AssetPrefix[atrium.AssetCodeSource]) || a.Version != 1 ||
		!a.CreatedAt.Equal(stored(clockStart)) || !a.UpdatedAt.Equal(a.CreatedAt) || a.CreatedAt.Location() != time.UTC {
		t.Fatalf("created asset = %+v, want id, version 1 and timestamps set", a)
	}
	if string(a.Spec) != `{"repo":"https://git.example.com/r.git","branch":"main","n":[1,2.5,null]}` {
		t.Fatalf("stored spec = %s, want it compacted", a.Spec)
	}
	got := mustFindAsset(t, s, a.ID)
	wantEqual(t, "FindAssetByID", got, a)
	if string(got.Secret) != string(token) || got.LatestVersion != "" {
		t.Fatalf("secret read back = %q, latest %q", got.Secret, got.LatestVersion)
	}
	// The secret never leaves in JSON.
	as, n, err := s.FindAssets(ctx, atrium.AssetFilter{WorkspaceID: w.ID, Kind: atrium.AssetCodeSource})
	wantNoErr(t, err)
	if n != 1 || len(as) != 1 {
		t.Fatalf("FindAssets = %d %s", n, dump(as))
	}
	wantEqual(t, "FindAssets[0]", as[0], a)
	for _, v := range []any{got, as} {
		b, err := json.Marshal(v)
		wantNoErr(t, err)
		if strings.Contains(string(b), "ghp_secret") || strings.Contains(string(b), "Z2hwX3NlY3JldC") ||
			strings.Contains(strings.ToLower(string(b)), `"secret"`) {
			t.Fatalf("JSON holds the secret: %s", b)
		}
		if !strings.Contains(string(b), `"spec":{"repo":"https://git.example.com/r.git"`) {
			t.Fatalf("JSON lacks the spec: %s", b)
		}
	}

	// Each kind gets its prefix; a bare asset gets defaults.
	for kind, prefix := range atrium.AssetPrefix {
		c.Add(time.Second)
		b := &atrium.Asset{WorkspaceID: w.ID, Kind: kind, Name: "bare"}
		mustAsset(t, s, b)
		if !atrium.HasPrefix(b.ID, prefix) || b.Accessibility != atrium.AccessPrivate || b.Labels == nil ||
			string(b.Spec) != "{}" || b.Secret != nil || !b.CreatedAt.Equal(stored(c.Now())) {
			t.Fatalf("bare %s = %+v", kind, b)
		}
		wantEqual(t, "bare "+kind, mustFindAsset(t, s, b.ID), b)
	}

	// Names are unique per workspace and kind.
	e := wantCode(t, s.CreateAsset(ctx, newAsset(w, atrium.AssetCodeSource, "repo", alice.ID)), atrium.ECONFLICT)
	if !strings.Contains(e.Message, `"repo"`) {
		t.Fatalf("conflict message %q does not name the asset", e.Message)
	}
	mustAsset(t, s, newAsset(w, atrium.AssetDataset, "repo", alice.ID))
	mustAsset(t, s, newAsset(other, atrium.AssetCodeSource, "repo", alice.ID))
	dup := newAsset(w, atrium.AssetModel, "fresh", alice.ID)
	dup.ID = a.ID
	wantCode(t, s.CreateAsset(ctx, dup), atrium.ECONFLICT)

	// Errors.
	wantField(t, s.CreateAsset(ctx, newAsset(w, "notebook", "x", alice.ID)), "kind")
	wantField(t, s.CreateAsset(ctx, newAsset(w, atrium.AssetModel, "", alice.ID)), "name")
	bad := newAsset(w, atrium.AssetModel, "badspec", alice.ID)
	bad.Spec = json.RawMessage(`{"a":`)
	wantField(t, s.CreateAsset(ctx, bad), "spec")
	bad = newAsset(w, atrium.AssetModel, "badaccess", alice.ID)
	bad.Accessibility = "SHARED"
	wantField(t, s.CreateAsset(ctx, bad), "accessibility")
	wantCode(t, s.CreateAsset(ctx, newAsset(&atrium.Workspace{ID: "ws-nosuch"}, atrium.AssetModel, "x", alice.ID)), atrium.ENOTFOUND)
	_, err = s.FindAssetByID(ctx, "d-nosuch")
	wantCode(t, err, atrium.ENOTFOUND)
	_, n, err = s.FindAssets(ctx, atrium.AssetFilter{WorkspaceID: w.ID, Kind: atrium.AssetModel})
	wantNoErr(t, err)
	if n != 1 {
		t.Fatalf("models after failed creates = %d, want 1", n)
	}

	// Update.
	c.Add(time.Minute)
	labels := map[string]string{"team": "cv"}
	spec := json.RawMessage(`{"repo": "https://git.example.com/r2.git"}`)
	u, err := s.UpdateAsset(ctx, a.ID, atrium.AssetUpdate{
		Name: ptr("repo2"), Description: ptr("moved"), Accessibility: ptr(atrium.AccessPublic),
		Owner: ptr("u-bob"), OwnerName: ptr("Bob"), Labels: &labels, Spec: &spec, Secret: ptr([]byte("new")),
	})
	wantNoErr(t, err)
	want := *a
	want.Name, want.Description, want.Accessibility, want.Owner, want.OwnerName = "repo2", "moved", atrium.AccessPublic, "u-bob", "Bob"
	want.Labels, want.Spec, want.Secret = labels, json.RawMessage(`{"repo":"https://git.example.com/r2.git"}`), []byte("new")
	want.Version, want.UpdatedAt = 2, stored(c.Now())
	wantEqual(t, "UpdateAsset", u, &want)
	wantEqual(t, "updated read back", mustFindAsset(t, s, a.ID), &want)
	// An empty update changes only the version and time; an empty secret clears it.
	c.Add(time.Minute)
	u, err = s.UpdateAsset(ctx, a.ID, atrium.AssetUpdate{Secret: ptr([]byte{})})
	wantNoErr(t, err)
	want.Secret, want.Version, want.UpdatedAt = nil, 3, stored(c.Now())
	wantEqual(t, "secret cleared", u, &want)
	wantEqual(t, "cleared read back", mustFindAsset(t, s, a.ID), &want)

	_, err = s.UpdateAsset(ctx, a.ID, atrium.AssetUpdate{Name: ptr("bare")})
	wantCode(t, err, atrium.ECONFLICT)
	_, err = s.UpdateAsset(ctx, a.ID, atrium.AssetUpdate{Accessibility: ptr("x")})
	wantField(t, err, "accessibility")
	_, err = s.UpdateAsset(ctx, a.ID, atrium.AssetUpdate{Spec: ptr(json.RawMessage("nope"))})
	wantField(t, err, "spec")
	_, err = s.UpdateAsset(ctx, "code-nosuch", atrium.AssetUpdate{Description: ptr("x")})
	wantCode(t, err, atrium.ENOTFOUND)
	wantEqual(t, "after failed updates", mustFindAsset(t, s, a.ID), &want)
	// Its old name is free again.
	mustAsset(t, s, newAsset(w, atrium.AssetCodeSource, "repo", alice.ID))

	// Delete takes the versions along.
	mustAssetVersion(t, s, &atrium.AssetVersion{AssetID: a.ID, Name: "v1"})
	wantNoErr(t, s.DeleteAsset(ctx, a.ID))
	_, err = s.FindAssetByID(ctx, a.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	_, err = s.FindAssetVersion(ctx, a.ID, "v1")
	wantCode(t, err, atrium.ENOTFOUND)
	_, err = s.FindAssetVersions(ctx, a.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	wantCode(t, s.DeleteAsset(ctx, a.ID), atrium.ENOTFOUND)
}

func testAssetVersions(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "vision", alice)
	m := mustAsset(t, s, newAsset(w, atrium.AssetModel, "bert", alice.ID))

	c.Add(time.Minute)
	approvedAt := clockStart.Add(-time.Hour)
	v1 := &atrium.AssetVersion{
		AssetID: m.ID, WorkspaceID: "ignored", Kind: "ignored", Name: "1.0.0", Description: "first",
		URI: "oss://models/bert/1", Creator: alice.ID, CreatorName: "Alice", Labels: map[string]string{"stage": "dev"},
		Spec:           json.RawMessage(`{"formatType": "SavedModel", "frameworkType": "TensorFlow", "metrics": {"acc": 0.9}}`),
		ApprovalStatus: atrium.ApprovalApproved, ApprovedBy: "u-op", ApprovedAt: &approvedAt,
		SourceType: "Job", SourceID: "dlc-1",
	}
	mustAssetVersion(t, s, v1)
	if v1.Seq != 1 || v1.WorkspaceID != w.ID || v1.Kind != atrium.AssetModel || !v1.CreatedAt.Equal(stored(c.Now())) ||
		!v1.UpdatedAt.Equal(v1.CreatedAt) || !v1.ApprovedAt.Equal(stored(approvedAt)) ||
		string(v1.Spec) != `{"formatType":"SavedModel","frameworkType":"TensorFlow","metrics":{"acc":0.9}}` {
		t.Fatalf("created version = %s", dump(v1))
	}
	got, err := s.FindAssetVersion(ctx, m.ID, "1.0.0")
	wantNoErr(t, err)
	wantEqual(t, "FindAssetVersion", got, v1)
	am := mustFindAsset(t, s, m.ID)
	if am.LatestVersion != "1.0.0" || am.Version != 2 || !am.UpdatedAt.Equal(stored(c.Now())) {
		t.Fatalf("asset after first version = %+v", am)
	}

	c.Add(time.Minute)
	v2 := mustAssetVersion(t, s, &atrium.AssetVersion{AssetID: m.ID, Name: "0.9.0", ApprovalStatus: atrium.ApprovalPending})
	if v2.Seq != 2 || v2.Labels == nil || string(v2.Spec) != "{}" || v2.ApprovedAt != nil {
		t.Fatalf("bare version = %s", dump(v2))
	}
	// Newest is by creation, not by name.
	if am := mustFindAsset(t, s, m.ID); am.LatestVersion != "0.9.0" {
		t.Fatalf("latest = %q, want 0.9.0", am.LatestVersion)
	}
	vs, err := s.FindAssetVersions(ctx, m.ID)
	wantNoErr(t, err)
	wantEqual(t, "FindAssetVersions", vs, []*atrium.AssetVersion{v2, v1})

	// Errors.
	e := wantCode(t, s.CreateAssetVersion(ctx, &atrium.AssetVersion{AssetID: m.ID, Name: "1.0.0"}), atrium.ECONFLICT)
	if !strings.Contains(e.Message, "1.0.0") {
		t.Fatalf("conflict message %q does not name the version", e.Message)
	}
	wantCode(t, s.CreateAssetVersion(ctx, &atrium.AssetVersion{AssetID: "model-nosuch", Name: "1.0.0"}), atrium.ENOTFOUND)
	wantField(t, s.CreateAssetVersion(ctx, &atrium.AssetVersion{AssetID: m.ID, Spec: json.RawMessage("{")}), "versionName")
	_, err = s.FindAssetVersion(ctx, m.ID, "2.0.0")
	wantCode(t, err, atrium.ENOTFOUND)
	// Another asset may use the same version name.
	d := mustAsset(t, s, newAsset(w, atrium.AssetDataset, "bert", alice.ID))
	mustAssetVersion(t, s, &atrium.AssetVersion{AssetID: d.ID, Name: "1.0.0"})

	// Update changes what it names; the uri and lineage stay.
	c.Add(time.Minute)
	labels := map[string]string{"stage": "prod"}
	spec := json.RawMessage(`{"formatType":"ONNX"}`)
	u, err := s.UpdateAssetVersion(ctx, m.ID, "1.0.0", atrium.AssetVersionUpdate{Description: ptr("final"), Labels: &labels, Spec: &spec})
	wantNoErr(t, err)
	want := *v1
	want.Description, want.Labels, want.Spec, want.UpdatedAt = "final", labels, spec, stored(c.Now())
	wantEqual(t, "UpdateAssetVersion", u, &want)
	got, err = s.FindAssetVersion(ctx, m.ID, "1.0.0")
	wantNoErr(t, err)
	wantEqual(t, "updated version read back", got, &want)
	_, err = s.UpdateAssetVersion(ctx, m.ID, "9.9.9", atrium.AssetVersionUpdate{Description: ptr("x")})
	wantCode(t, err, atrium.ENOTFOUND)

	// An approval sets ApprovedAt; FromApproval guards the transition.
	c.Add(time.Minute)
	u, err = s.UpdateAssetVersion(ctx, m.ID, "0.9.0", atrium.AssetVersionUpdate{
		ApprovalStatus: ptr(atrium.ApprovalRejected), ApprovedBy: ptr("u-op"), FromApproval: ptr(atrium.ApprovalPending)})
	wantNoErr(t, err)
	if u.ApprovalStatus != atrium.ApprovalRejected || u.ApprovedBy != "u-op" || u.ApprovedAt == nil || !u.ApprovedAt.Equal(stored(c.Now())) {
		t.Fatalf("rejected version = %s", dump(u))
	}
	_, err = s.UpdateAssetVersion(ctx, m.ID, "0.9.0", atrium.AssetVersionUpdate{
		ApprovalStatus: ptr(atrium.ApprovalApproved), FromApproval: ptr(atrium.ApprovalPending)})
	e = wantCode(t, err, atrium.ECONFLICT)
	if !strings.Contains(e.Message, "0.9.0 is Rejected") {
		t.Fatalf("approval conflict message = %q", e.Message)
	}

	// Deleting the latest version makes the one before it latest.
	wantNoErr(t, s.DeleteAssetVersion(ctx, m.ID, "0.9.0"))
	if am := mustFindAsset(t, s, m.ID); am.LatestVersion != "1.0.0" {
		t.Fatalf("latest after delete = %q, want 1.0.0", am.LatestVersion)
	}
	wantCode(t, s.DeleteAssetVersion(ctx, m.ID, "0.9.0"), atrium.ENOTFOUND)
	wantCode(t, s.DeleteAssetVersion(ctx, "model-nosuch", "1.0.0"), atrium.ENOTFOUND)
	// Numbering goes on after the largest left.
	v3 := mustAssetVersion(t, s, &atrium.AssetVersion{AssetID: m.ID, Name: "1.1.0"})
	if v3.Seq != 2 {
		t.Fatalf("seq after delete = %d, want 2", v3.Seq)
	}
	wantNoErr(t, s.DeleteAssetVersion(ctx, m.ID, "1.0.0"))
	if am := mustFindAsset(t, s, m.ID); am.LatestVersion != "1.1.0" {
		t.Fatalf("latest after deleting an older version = %q, want 1.1.0", am.LatestVersion)
	}
	wantNoErr(t, s.DeleteAssetVersion(ctx, m.ID, "1.1.0"))
	if am := mustFindAsset(t, s, m.ID); am.LatestVersion != "" {
		t.Fatalf("latest with no versions = %q", am.LatestVersion)
	}
	vs, err = s.FindAssetVersions(ctx, m.ID)
	wantNoErr(t, err)
	wantEqual(t, "versions after deletes", versionNames(vs), []string{})
}

// testAssetApprovalConcurrent: approvers racing on one Pending version with
// FromApproval=Pending: exactly one wins and exactly one event is written.
func testAssetApprovalConcurrent(t *testing.T, s atrium.Store) {
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "vision", alice)
	m := mustAsset(t, s, newAsset(w, atrium.AssetModel, "bert", alice.ID))
	mustAssetVersion(t, s, &atrium.AssetVersion{AssetID: m.ID, Name: "1.0.0", ApprovalStatus: atrium.ApprovalPending})

	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			to := atrium.ApprovalApproved
			if i%2 == 1 {
				to = atrium.ApprovalRejected
			}
			_, errs[i] = s.UpdateAssetVersion(ctx, m.ID, "1.0.0", atrium.AssetVersionUpdate{
				ApprovalStatus: &to, ApprovedBy: ptr(fmt.Sprintf("u-%d", i)), FromApproval: ptr(atrium.ApprovalPending),
				Event: &atrium.Event{Type: atrium.EventModelApprovalChanged, Source: "/workspaces/" + w.ID + "/models/" + m.ID,
					Subject: "1.0.0", Data: json.RawMessage(fmt.Sprintf(`{"approvalStatus":%q,"by":%d}`, to, i))},
			})
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("approvers %d and %d both won", winner, i)
			}
			winner = i
		} else if atrium.ErrorCode(err) != atrium.ECONFLICT {
			t.Fatalf("approver %d: %v, want ECONFLICT", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no approver won: %v", errs)
	}
	v, err := s.FindAssetVersion(ctx, m.ID, "1.0.0")
	wantNoErr(t, err)
	if v.ApprovedBy != fmt.Sprintf("u-%d", winner) || v.ApprovalStatus == atrium.ApprovalPending {
		t.Fatalf("version after race = %s, winner %d", dump(v), winner)
	}
	es, err := s.FindEvents(ctx, atrium.EventFilter{Types: []string{atrium.EventModelApprovalChanged}})
	wantNoErr(t, err)
	if len(es) != 1 || es[0].WorkspaceID != w.ID || !strings.Contains(string(es[0].Data), fmt.Sprintf(`"by":%d`, winner)) {
		t.Fatalf("events after race = %s, want exactly the winner's", dump(es))
	}
}

func testFindAssets(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w1, w2 := mustWorkspace(t, s, "vision", alice), mustWorkspace(t, s, "speech", alice)

	mk := func(ws *atrium.Workspace, kind, name, owner, access string) *atrium.Asset {
		t.Helper()
		a := newAsset(ws, kind, name, owner)
		a.Accessibility = access
		c.Add(time.Minute)
		return mustAsset(t, s, a)
	}
	a := mk(w1, atrium.AssetDataset, "cats", "u-alice", atrium.AccessPrivate)
	b := mk(w1, atrium.AssetDataset, "birds", "u-bob", atrium.AccessPublic)
	d := mk(w1, atrium.AssetDataset, "dogs", "u-bob", atrium.AccessPrivate)
	e := mk(w1, atrium.AssetDataset, "Eels", "u-carol", atrium.AccessPublic)
	mk(w1, atrium.AssetModel, "cats", "u-alice", atrium.AccessPublic)
	mk(w2, atrium.AssetDataset, "cats", "u-alice", atrium.AccessPublic)
	// Updating a moves it to the end by updatedAt.
	c.Add(time.Minute)
	_, err := s.UpdateAsset(ctx, a.ID, atrium.AssetUpdate{Description: ptr("fresh")})
	wantNoErr(t, err)

	ids := func(as ...*atrium.Asset) []string { return assetIDs(as) }
	for _, tc := range []struct {
		name string
		f    atrium.AssetFilter
		want []string
		n    int
	}{
		{"default order", atrium.AssetFilter{}, ids(a, b, d, e), 4},
		{"createdAt desc", atrium.AssetFilter{SortBy: "createdAt", Desc: true}, ids(e, d, b, a), 4},
		{"updatedAt", atrium.AssetFilter{SortBy: "updatedAt"}, ids(b, d, e, a), 4},
		{"name (bytewise)", atrium.AssetFilter{SortBy: "name"}, ids(e, b, a, d), 4},
		{"name desc", atrium.AssetFilter{SortBy: "name", Desc: true}, ids(d, a, b, e), 4},
		{"page", atrium.AssetFilter{SortBy: "name", Offset: 1, Limit: 2}, ids(b, a), 4},
		{"offset only", atrium.AssetFilter{Offset: 3}, ids(e), 4},
		{"past the end", atrium.AssetFilter{Offset: 9, Limit: 2}, ids(), 4},
		{"visible to bob", atrium.AssetFilter{VisibleTo: "u-bob"}, ids(b, d, e), 3},
		{"visible to alice", atrium.AssetFilter{VisibleTo: "u-alice"}, ids(a, b, e), 3},
		{"public only", atrium.AssetFilter{VisibleTo: "-"}, ids(b, e), 2},
		{"visible to a stranger", atrium.AssetFilter{VisibleTo: "u-zed", Limit: 1}, ids(b), 2},
	} {
		f := tc.f
		f.WorkspaceID, f.Kind = w1.ID, atrium.AssetDataset
		as, n, err := s.FindAssets(ctx, f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		wantEqual(t, tc.name, assetIDs(as), tc.want)
		if n != tc.n {
			t.Fatalf("%s: total = %d, want %d", tc.name, n, tc.n)
		}
	}
	_, _, err = s.FindAssets(ctx, atrium.AssetFilter{WorkspaceID: w1.ID, Kind: atrium.AssetDataset, SortBy: "owner"})
	wantField(t, err, "sortBy")
	_, _, err = s.FindAssets(ctx, atrium.AssetFilter{WorkspaceID: w1.ID})
	wantField(t, err, "kind")
	_, _, err = s.FindAssets(ctx, atrium.AssetFilter{Kind: atrium.AssetDataset})
	wantField(t, err, "workspaceId")
}

func testAssetWorkspaceDelete(t *testing.T, s atrium.Store) {
	alice := mustUser(t, s, "alice")
	w, keep := mustWorkspace(t, s, "vision", alice), mustWorkspace(t, s, "speech", alice)
	gone := mustAsset(t, s, newAsset(w, atrium.AssetModel, "bert", alice.ID))
	mustAssetVersion(t, s, &atrium.AssetVersion{AssetID: gone.ID, Name: "1.0.0", ApprovalStatus: atrium.ApprovalPending})
	_, err := s.UpdateAssetVersion(ctx, gone.ID, "1.0.0", atrium.AssetVersionUpdate{ApprovalStatus: ptr(atrium.ApprovalApproved),
		FromApproval: ptr(atrium.ApprovalPending), Event: &atrium.Event{Type: atrium.EventModelApprovalChanged}})
	wantNoErr(t, err)
	kept := mustAsset(t, s, newAsset(keep, atrium.AssetModel, "bert", alice.ID))
	mustAssetVersion(t, s, &atrium.AssetVersion{AssetID: kept.ID, Name: "1.0.0"})
	kept = mustFindAsset(t, s, kept.ID)

	wantNoErr(t, s.DeleteWorkspace(ctx, w.ID))
	_, err = s.FindAssetByID(ctx, gone.ID)
	wantCode(t, err, atrium.ENOTFOUND)
	_, err = s.FindAssetVersion(ctx, gone.ID, "1.0.0")
	wantCode(t, err, atrium.ENOTFOUND)
	wantEqual(t, "kept asset", mustFindAsset(t, s, kept.ID), kept)
	vs, err := s.FindAssetVersions(ctx, kept.ID)
	wantNoErr(t, err)
	wantEqual(t, "kept versions", versionNames(vs), []string{"1.0.0"})
	// The outbox keeps the deleted workspace's events until delivered.
	es, err := s.FindEvents(ctx, atrium.EventFilter{WorkspaceID: w.ID})
	wantNoErr(t, err)
	if len(es) != 1 {
		t.Fatalf("events of the deleted workspace = %s", dump(es))
	}
	wantCode(t, s.CreateAsset(ctx, newAsset(w, atrium.AssetModel, "x", alice.ID)), atrium.ENOTFOUND)
}

func testAssetAudit(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w := mustWorkspace(t, s, "vision", alice)

	var a *atrium.Asset
	str := func(s *string) func() string { return func() string { return *s } }
	wsID, aID, vTarget := &w.ID, new(string), new(string)
	steps := []auditStep{
		{"CreateAsset", func(ctx context.Context) error {
			a = newAsset(w, atrium.AssetModel, "bert", alice.ID)
			err := s.CreateAsset(ctx, a)
			*aID, *vTarget = a.ID, a.ID+"/1.0.0"
			return err
		}, str(wsID), str(aID)},
		{"UpdateAsset", func(ctx context.Context) error {
			_, err := s.UpdateAsset(ctx, a.ID, atrium.AssetUpdate{Description: ptr("x")})
			return err
		}, str(wsID), str(aID)},
		{"CreateAssetVersion", func(ctx context.Context) error {
			return s.CreateAssetVersion(ctx, &atrium.AssetVersion{AssetID: a.ID, Name: "1.0.0", ApprovalStatus: atrium.ApprovalPending})
		}, str(wsID), str(vTarget)},
		{"UpdateAssetVersion", func(ctx context.Context) error {
			_, err := s.UpdateAssetVersion(ctx, a.ID, "1.0.0", atrium.AssetVersionUpdate{ApprovalStatus: ptr(atrium.ApprovalApproved),
				FromApproval: ptr(atrium.ApprovalPending), Event: &atrium.Event{Type: atrium.EventModelApprovalChanged}})
			return err
		}, str(wsID), str(vTarget)},
		{"DeleteAssetVersion", func(ctx context.Context) error {
			return s.DeleteAssetVersion(ctx, a.ID, "1.0.0")
		}, str(wsID), str(vTarget)},
		{"DeleteAsset", func(ctx context.Context) error {
			return s.DeleteAsset(ctx, a.ID)
		}, str(wsID), str(aID)},
	}
	runAuditSteps(t, s, c, alice, steps)

	// Failed writes log nothing, leave Recorded false and change nothing.
	m := mustAsset(t, s, newAsset(w, atrium.AssetModel, "gpt", alice.ID))
	mustAssetVersion(t, s, &atrium.AssetVersion{AssetID: m.ID, Name: "1.0.0", ApprovalStatus: atrium.ApprovalApproved})
	m = mustFindAsset(t, s, m.ID)
	failing := map[string]func(ctx context.Context) error{
		"CreateAsset dup": func(ctx context.Context) error {
			return s.CreateAsset(ctx, newAsset(w, atrium.AssetModel, "gpt", alice.ID))
		},
		"CreateAsset kind": func(ctx context.Context) error {
			return s.CreateAsset(ctx, newAsset(w, "sql", "x", alice.ID))
		},
		"UpdateAsset missing": func(ctx context.Context) error {
			_, err := s.UpdateAsset(ctx, "model-nosuch", atrium.AssetUpdate{Description: ptr("x")})
			return err
		},
		"CreateAssetVersion dup": func(ctx context.Context) error {
			return s.CreateAssetVersion(ctx, &atrium.AssetVersion{AssetID: m.ID, Name: "1.0.0"})
		},
		"UpdateAssetVersion approved": func(ctx context.Context) error {
			_, err := s.UpdateAssetVersion(ctx, m.ID, "1.0.0", atrium.AssetVersionUpdate{ApprovalStatus: ptr(atrium.ApprovalRejected),
				FromApproval: ptr(atrium.ApprovalPending), Event: &atrium.Event{Type: atrium.EventModelApprovalChanged}})
			return err
		},
		"DeleteAssetVersion missing": func(ctx context.Context) error { return s.DeleteAssetVersion(ctx, m.ID, "2.0.0") },
		"DeleteAsset missing":        func(ctx context.Context) error { return s.DeleteAsset(ctx, "model-nosuch") },
	}
	for name, call := range failing {
		au := &atrium.Audit{ActorID: alice.ID, Action: "Fail:" + name, RequestID: "req-fail", Status: 200}
		if err := call(atrium.WithAudit(ctx, au)); err == nil {
			t.Fatalf("%s: succeeded, want an error", name)
		}
		if au.Recorded {
			t.Fatalf("%s: audit.Recorded = true after a failed write", name)
		}
		ls, n, err := s.FindOperationLogs(ctx, atrium.OperationLogFilter{Action: au.Action})
		wantNoErr(t, err)
		if n != 0 {
			t.Fatalf("%s: failed write left log lines: %s", name, dump(ls))
		}
	}
	wantEqual(t, "asset after failed writes", mustFindAsset(t, s, m.ID), m)
	es, err := s.FindEvents(ctx, atrium.EventFilter{})
	wantNoErr(t, err)
	if len(es) != 1 {
		t.Fatalf("events after failed writes = %s, want the one approval", dump(es))
	}
}

// testAssetFilters: filter expressions over common columns, spec fields and
// labels select the same assets on every engine.
func testAssetFilters(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	alice := mustUser(t, s, "alice")
	w, other := mustWorkspace(t, s, "vision", alice), mustWorkspace(t, s, "speech", alice)

	mk := func(ws *atrium.Workspace, kind, name, desc, owner, access string, labels map[string]string, spec string) *atrium.Asset {
		t.Helper()
		c.Add(time.Minute)
		return mustAsset(t, s, &atrium.Asset{WorkspaceID: ws.ID, Kind: kind, Name: name, Description: desc, Owner: owner,
			OwnerName: "Name of " + owner, Accessibility: access, Labels: labels, Spec: json.RawMessage(spec)})
	}
	a := mk(w, atrium.AssetDataset, "cats", "Cute cats", "u-alice", atrium.AccessPrivate, map[string]string{"team": "nlp", "tier": "gold"},
		`{"dataType":"COMMON","property":"DIRECTORY","uri":"oss://b/cats","dataSourceType":"OSS"}`)
	b := mk(w, atrium.AssetDataset, "birds", "", "u-bob", atrium.AccessPublic, map[string]string{"team": "cv"},
		`{"dataType":"PIC","property":"FILE","uri":"nas://x/birds","dataSourceType":"NAS"}`)
	d := mk(w, atrium.AssetDataset, "dogs", "It's dogs", "u-bob", atrium.AccessPrivate, nil,
		`{"dataType":"COMMON","property":"FILE","uri":"oss://b/dogs_100%","dataSourceType":"OSS","size":12}`)
	e := mk(w, atrium.AssetDataset, "Eels", "", "u-carol", atrium.AccessPublic, map[string]string{"team": "nlp", "x/y.z": "1"},
		`{"dataType":"TEXT","uri":"oss://b/eels"}`)
	mustAssetVersion(t, s, &atrium.AssetVersion{AssetID: a.ID, Name: "v1"})
	mustAssetVersion(t, s, &atrium.AssetVersion{AssetID: a.ID, Name: "v2"})
	mustAssetVersion(t, s, &atrium.AssetVersion{AssetID: d.ID, Name: "v1"})
	// Same names and labels elsewhere never leak in.
	mk(other, atrium.AssetDataset, "cats", "Cute cats", "u-alice", atrium.AccessPublic, map[string]string{"team": "nlp"}, `{"dataType":"COMMON"}`)
	m := mk(w, atrium.AssetModel, "cats", "Cute cats", "u-alice", atrium.AccessPublic, map[string]string{"team": "nlp"}, `{"domain":"cv","task":"detect"}`)
	m2 := mk(w, atrium.AssetModel, "bert", "", "u-alice", atrium.AccessPublic, map[string]string{"team": "cv"}, `{"domain":"nlp"}`)
	mustAssetVersion(t, s, &atrium.AssetVersion{AssetID: m.ID, Name: "0.1.0", ApprovalStatus: atrium.ApprovalPending, Spec: json.RawMessage(`{"frameworkType":"TensorFlow"}`)})
	mustAssetVersion(t, s, &atrium.AssetVersion{AssetID: m.ID, Name: "0.2.0", ApprovalStatus: atrium.ApprovalApproved, Spec: json.RawMessage(`{"frameworkType":"PyTorch"}`)})
	mustAssetVersion(t, s, &atrium.AssetVersion{AssetID: m2.ID, Name: "1.0.0", ApprovalStatus: atrium.ApprovalPending, Spec: json.RawMessage(`{"frameworkType":"PyTorch"}`)})
	cs := mk(w, atrium.AssetCodeSource, "trainer", "", "u-alice", atrium.AccessPublic, nil,
		`{"repo":"https://github.com/acme/trainer.git","branch":"main","commit":"abc"}`)
	mk(w, atrium.AssetCodeSource, "tools", "", "u-alice", atrium.AccessPublic, nil, `{"repo":"https://gitlab.example.com/tools.git","branch":"dev"}`)
	img := mk(w, atrium.AssetImage, "torch", "", "u-alice", atrium.AccessPublic, map[string]string{"framework": "PyTorch", "cudaVersion": "12.1"},
		`{"imageUri":"registry.example.com/torch:2.4"}`)
	mk(w, atrium.AssetImage, "tf", "", "u-alice", atrium.AccessPublic, map[string]string{"framework": "TensorFlow", "cudaVersion": "11.8"},
		`{"imageUri":"registry.example.com/tf:2.15"}`)

	ids := func(as ...*atrium.Asset) []string { return assetIDs(as) }
	ts := func(a *atrium.Asset) string { return a.CreatedAt.Format(time.RFC3339Nano) }
	for _, tc := range []struct {
		kind, filter string
		visibleTo    string
		want         []string
	}{
		{"", `name = "cats"`, "", ids(a)},
		{"", `name != "cats"`, "", ids(b, d, e)},
		{"", `name LIKE "e%"`, "", ids(e)},    // case-insensitive
		{"", `name > "birds"`, "", ids(a, d)}, // byte order: "Eels" < "birds"
		{"", `name IN ("dogs", "Eels", "none")`, "", ids(d, e)},
		{"", `description LIKE "%CUTE%" OR description = "It's dogs"`, "", ids(a, d)},
		{"", `id = "` + b.ID + `" OR owner = "u-carol"`, "", ids(b, e)},
		{"", `ownerName = "Name of u-bob" AND accessibility = "PRIVATE"`, "", ids(d)},
		{"", `latestVersion = "v2"`, "", ids(a)},
		{"", `latestVersion != ""`, "", ids(a, d)},
		{"", `createdAt > "` + ts(b) + `"`, "", ids(d, e)},
		{"", `createdAt <= "` + ts(b) + `" AND updatedAt >= "2000-01-01T00:00:00Z"`, "", ids(a, b)},
		{"", `dataType = "COMMON"`, "", ids(a, d)},
		{"", `dataType IN ("PIC", "TEXT")`, "", ids(b, e)},
		{"", `property != "FILE"`, "", ids(a, e)}, // e has no property
		{"", `uri LIKE "oss://%"`, "", ids(a, d, e)},
		{"", `uri LIKE "%\\%"`, "", ids(d)},  // a literal %
		{"", `uri LIKE "%\\_%"`, "", ids(d)}, // a literal _
		{"", `dataSourceType = "OSS" AND labels.tier = "gold"`, "", ids(a)},
		{"", `labels.team = "nlp"`, "", ids(a, e)},
		{"", `labels.team != "nlp"`, "", ids(b, d)}, // no label counts as not equal
		{"", `NOT labels.team LIKE "%"`, "", ids(d)},
		{"", `labels.x/y.z = "1"`, "", ids(e)},
		{"", `labels.team NOT IN ("cv")`, "", ids(a, d, e)},
		{"", `(labels.team = "cv" OR property = "FILE") AND owner = "u-bob"`, "", ids(b, d)},
		{"", `NOT (dataType = "COMMON" OR labels.team = "cv")`, "", ids(e)},
		{"", `name = "x' OR '1'='1"`, "", ids()},
		{"", `labels.nosuch = "x" OR labels.nosuch LIKE "%"`, "", ids()},
		{"", `dataType = "COMMON"`, "u-alice", ids(a)},
		{"", `labels.team = "nlp"`, "-", ids(e)},
		{atrium.AssetCodeSource, `repo LIKE "%github.com%" AND branch = "main"`, "", ids(cs)},
		{atrium.AssetCodeSource, `commit = "abc"`, "", ids(cs)},
		{atrium.AssetImage, `labels.framework = "PyTorch" AND labels.cudaVersion >= "12"`, "", ids(img)},
		{atrium.AssetImage, `imageUri LIKE "%torch%"`, "", ids(img)},
		{atrium.AssetModel, `domain = "cv" AND task = "detect" AND name = "cats"`, "", ids(m)},
		{atrium.AssetModel, `domain = "nlp"`, "", ids(m2)},
		// Models answer for their latest version (the example).
		{atrium.AssetModel, `frameworkType = "PyTorch" AND (labels.team = "nlp" OR approvalStatus = "Approved")`, "", ids(m)},
		{atrium.AssetModel, `frameworkType = "PyTorch"`, "", ids(m, m2)},
		{atrium.AssetModel, `frameworkType = "TensorFlow"`, "", ids()},
		{atrium.AssetModel, `approvalStatus = "Pending"`, "", ids(m2)},
	} {
		kind := tc.kind
		if kind == "" {
			kind = atrium.AssetDataset
		}
		as, n, err := s.FindAssets(ctx, atrium.AssetFilter{WorkspaceID: w.ID, Kind: kind, Filter: tc.filter, VisibleTo: tc.visibleTo})
		if err != nil {
			t.Fatalf("%s %s: %v", kind, tc.filter, err)
		}
		wantEqual(t, kind+" "+tc.filter, assetIDs(as), tc.want)
		if n != len(tc.want) {
			t.Fatalf("%s: total %d, want %d", tc.filter, n, len(tc.want))
		}
	}

	// A page of a filtered list counts all matches.
	as, n, err := s.FindAssets(ctx, atrium.AssetFilter{WorkspaceID: w.ID, Kind: atrium.AssetDataset,
		Filter: `uri LIKE "oss://%"`, SortBy: "name", Limit: 1, Offset: 1})
	wantNoErr(t, err)
	if n != 3 || len(as) != 1 || as[0].ID != a.ID {
		t.Fatalf("filtered page = %d %s", n, dump(assetIDs(as)))
	}

	// Bad filters are EINVALID about "filter", naming the position.
	for _, bad := range []struct {
		kind, filter string
	}{
		{atrium.AssetDataset, `name =`},
		{atrium.AssetDataset, `bogus = "x"`},
		{atrium.AssetDataset, `repo = "x"`}, // a code source's field
		{atrium.AssetDataset, `name LIKE 3`},
		{atrium.AssetDataset, `createdAt > "yesterday"`},
		{atrium.AssetDataset, `(name = "a"`},
		{atrium.AssetModel, `dataType = "COMMON"`},
	} {
		_, _, err := s.FindAssets(ctx, atrium.AssetFilter{WorkspaceID: w.ID, Kind: bad.kind, Filter: bad.filter})
		if e := wantCode(t, err, atrium.EINVALID); e.Field != "filter" || !strings.Contains(e.Message, "position") {
			t.Fatalf("%s: error %+v, want one about filter naming the position", bad.filter, e)
		}
	}
}
