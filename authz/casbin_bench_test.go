package authz_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	fileadapter "github.com/casbin/casbin/v2/persist/file-adapter"

	"atrium"
	"atrium/authz"
)

// Atrium's permission check next to Casbin's on the same policy: the
// built-in workspace roles as an RBAC-with-domains model (a workspace is a
// domain; g = user, role, workspace), with Atrium's Own/Public/All scopes as
// an attribute condition in the matcher. Run with
//
//	go test ./authz -run '^$' -bench Authorize -benchmem

// casbinModel checks the cheap action equality first, as Casbin advises.
const casbinModel = `
[request_definition]
r = sub, dom, act, owner, access

[policy_definition]
p = sub, act, scope

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.act == p.act && g(r.sub, p.sub, r.dom) && (p.scope == "All" || (p.scope == "Own" && r.owner == r.sub) || (p.scope == "Public" && r.access == "PUBLIC"))
`

// builtinRoles are the workspace roles members hold, most often Developer.
var builtinRoles = []string{atrium.RoleAlgoDeveloper, atrium.RoleAlgoDeveloper, atrium.RoleAlgoDeveloper,
	atrium.RoleAlgoOperator, atrium.RoleLabelManager, atrium.RoleWorkspaceGuest, atrium.RoleMaxComputeDeveloper,
	atrium.RoleWorkspaceAdmin, atrium.RoleWorkspaceOwner}

type memberKey struct{ user, ws string }

// population is users spread over workspaces, each in perWS of them with
// one built-in role, and a fixed sample of checks over it.
type population struct {
	members map[memberKey][]string
	order   []memberKey
	reqs    []checkReq
}

type checkReq struct {
	user, ws, code, owner, access string
}

// comparableCodes are the workspace codes whose decision is one grant
// lookup in both engines: no separate read code, no separate approver.
func comparableCodes(a *authz.Authorizer) []string {
	var out []string
	for _, p := range a.Permissions() {
		if p.Level == authz.Workspace && (p.Read == "" || p.Read == p.Code) && !p.SeparateFromOwner {
			out = append(out, p.Code)
		}
	}
	return out
}

func newPopulation(a *authz.Authorizer, users, workspaces, perUser, checks int) *population {
	rng := rand.New(rand.NewPCG(1, 2))
	pop := &population{members: make(map[memberKey][]string, users*perUser)}
	for u := range users {
		for range perUser {
			k := memberKey{fmt.Sprintf("u-%d", u), fmt.Sprintf("ws-%d", rng.IntN(workspaces))}
			if _, dup := pop.members[k]; !dup {
				pop.members[k] = []string{builtinRoles[rng.IntN(len(builtinRoles))]}
				pop.order = append(pop.order, k)
			}
		}
	}
	codes := comparableCodes(a)
	for range checks {
		k := pop.order[rng.IntN(len(pop.order))]
		if rng.IntN(10) == 0 { // a tenth ask about a workspace they may not be in
			k.ws = fmt.Sprintf("ws-%d", rng.IntN(workspaces))
		}
		r := checkReq{user: k.user, ws: k.ws, code: codes[rng.IntN(len(codes))], owner: "u-other", access: authz.Private}
		if rng.IntN(3) == 0 {
			r.owner = k.user
		}
		if rng.IntN(3) == 0 {
			r.access = authz.PublicAccess
		}
		pop.reqs = append(pop.reqs, r)
	}
	return pop
}

// atrium decides r as an API handler does: the caller's membership of the
// workspace (here from memory), then Allowed.
func (pop *population) atrium(a *authz.Authorizer, r *checkReq) bool {
	roles, member := pop.members[memberKey{r.user, r.ws}]
	sub := authz.Subject{UserID: r.user, Member: member, Roles: roles}
	return a.Allowed(sub, r.code, authz.Resource{WorkspaceID: r.ws, OwnerID: r.owner, Accessibility: r.access})
}

// casbin loads the same policy into a Casbin enforcer through its file
// adapter: one p line per (role, code, scope) grant of the table, one g
// line per membership.
func (pop *population) casbin(tb testing.TB, a *authz.Authorizer) *casbin.Enforcer {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "policy.csv")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for _, code := range comparableCodes(a) {
		p, _ := a.Lookup(code)
		for role, sc := range p.Grants {
			for _, one := range []authz.Scope{authz.All, authz.Own, authz.Public} {
				if sc&one != 0 {
					fmt.Fprintf(w, "p, %s, %s, %s\n", role, code, one)
				}
			}
		}
	}
	for _, k := range pop.order {
		for _, role := range pop.members[k] {
			fmt.Fprintf(w, "g, %s, %s, %s\n", k.user, role, k.ws)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	m, err := model.NewModelFromString(casbinModel)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := casbin.NewEnforcer(m, fileadapter.NewAdapter(path))
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// TestCasbinAgrees shows the two engines hold the same policy: on a small
// population every sampled check gets the same answer from both.
func TestCasbinAgrees(t *testing.T) {
	a := authz.New()
	pop := newPopulation(a, 500, 50, 3, 5000)
	e := pop.casbin(t, a)
	allowed := 0
	for i := range pop.reqs {
		r := &pop.reqs[i]
		want := pop.atrium(a, r)
		got, err := e.Enforce(r.user, r.ws, r.code, r.owner, r.access)
		if err != nil || got != want {
			t.Fatalf("%+v: Atrium says %v, Casbin %v (%v)", *r, want, got, err)
		}
		if want {
			allowed++
		}
	}
	if allowed < len(pop.reqs)/5 || allowed > len(pop.reqs)*4/5 {
		t.Fatalf("%d of %d checks allowed: the sample does not exercise both answers", allowed, len(pop.reqs))
	}
}

var (
	bigOnce sync.Once
	bigPop  *population
)

// bigPopulation is the benchmark's policy: 100k users, 10k workspaces,
// three memberships each (300k role assignments).
func bigPopulation(a *authz.Authorizer) *population {
	bigOnce.Do(func() { bigPop = newPopulation(a, 100_000, 10_000, 3, 1<<14) })
	return bigPop
}

func BenchmarkAuthorize(b *testing.B) {
	a := authz.New()
	pop := bigPopulation(a)
	b.Run("atrium", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for i := 0; b.Loop(); i++ {
			if pop.atrium(a, &pop.reqs[i&(len(pop.reqs)-1)]) {
				n++
			}
		}
		b.ReportMetric(float64(n)/float64(b.N), "allowed/op")
	})
	// The decision alone, the Subject already in hand (as a handler has it
	// after reading the membership with the request's other data).
	b.Run("atrium-decision", func(b *testing.B) {
		subs := make([]authz.Subject, len(pop.reqs))
		res := make([]authz.Resource, len(pop.reqs))
		for i, r := range pop.reqs {
			roles, member := pop.members[memberKey{r.user, r.ws}]
			subs[i] = authz.Subject{UserID: r.user, Member: member, Roles: roles}
			res[i] = authz.Resource{WorkspaceID: r.ws, OwnerID: r.owner, Accessibility: r.access}
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			j := i & (len(pop.reqs) - 1)
			a.Allowed(subs[j], pop.reqs[j].code, res[j])
		}
	})
	b.Run("casbin", func(b *testing.B) {
		e := pop.casbin(b, a)
		b.ReportAllocs()
		n := 0
		for i := 0; b.Loop(); i++ {
			r := &pop.reqs[i&(len(pop.reqs)-1)]
			if ok, err := e.Enforce(r.user, r.ws, r.code, r.owner, r.access); err != nil {
				b.Fatal(err)
			} else if ok {
				n++
			}
		}
		b.ReportMetric(float64(n)/float64(b.N), "allowed/op")
	})
}
