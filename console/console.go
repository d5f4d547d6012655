// Package console is Atrium's web console: server-rendered HTML pages
// (html/template, embedded) over the REST API. It is an API client like the
// CLI — every page reads and writes through the API handler in process — so
// the one authorizer decides everything, and the console only uses the same
// decisions to offer the actions a user may take. Live parts (job status,
// log tails) are progressive enhancements in a small embedded script.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"atrium"
	"atrium/authz"
	"atrium/httpapi"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Console serves the web console.
type Console struct {
	api    http.Handler
	authz  *authz.Authorizer
	key    []byte // signs CSRF tokens
	logger *slog.Logger
	pages  map[string]*template.Template
	mux    *http.ServeMux
	// Now is the clock for charts' windows; tests may replace it.
	Now func() time.Time
	// Runtime is what jobs run in (httpapi.RuntimeProcess, the default, or
	// RuntimeContainer): in process mode every page a signed-in user sees
	// carries a banner saying jobs are not isolated.
	Runtime string
	// DSWOrigin is where DSW instances are served (scheme://host:port):
	// Open buttons post here and are redirected there, which the pages'
	// form-action must allow.
	DSWOrigin string
}

// New returns the console over api (the REST API's handler). key signs
// CSRF tokens; replicas of one deployment must share it.
func New(api http.Handler, key []byte, logger *slog.Logger) (*Console, error) {
	if len(key) < 16 {
		return nil, errors.New("console: the CSRF key must be at least 16 bytes")
	}
	c := &Console{api: api, authz: authz.New(), key: key, logger: logger, mux: http.NewServeMux(), Now: time.Now, Runtime: httpapi.RuntimeProcess}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if err := c.parse(); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

func (c *Console) parse() error {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	c.pages = map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return err
		}
		c.pages[strings.TrimSuffix(base, ".html")] = t
	}
	return nil
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; form-action 'self' "+c.DSWOrigin+"; base-uri 'none'")
	c.mux.ServeHTTP(w, r)
}

// session is a signed-in browser: its API client and who it is.
type session struct {
	client  *httpapi.Client
	user    *atrium.User
	tokenID string
	csrf    string
}

const (
	sessionCookie = httpapi.SessionCookie
	loginCookie   = "atrium_login"
	csrfField     = "_csrf"
	sessionTTL    = 12 * time.Hour
)

// client returns an API client speaking to the in-process API as token.
func (c *Console) client(token string) *httpapi.Client {
	cl := httpapi.NewClient("http://atrium.console", token)
	cl.HTTP = &http.Client{Transport: inproc{h: c.api}}
	cl.UserAgent = "atrium-console"
	return cl
}

// csrfFor derives the CSRF token of a session token: an HMAC, so it needs
// no storage and changes with every sign-in.
func (c *Console) csrfFor(token string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("csrf\x00" + token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// loadSession resolves the session cookie: nil when there is none or the
// API no longer accepts its token; an error when the API cannot tell (the
// database is unreachable), which is not a reason to sign anyone out.
func (c *Console) loadSession(r *http.Request) (*session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, nil
	}
	id, tok, ok := strings.Cut(ck.Value, ".")
	if !ok || tok == "" {
		return nil, nil
	}
	s := &session{client: c.client(tok), tokenID: id, csrf: c.csrfFor(tok)}
	u, err := s.client.GetUser(r.Context(), "me")
	if httpapi.IsProblem(err, atrium.EUNAUTHENTICATED) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	s.user = u
	return s, nil
}

// handler is a console page: it returns an error to show instead.
type handler func(w http.ResponseWriter, r *http.Request, s *session) error

// page wraps a handler: no session → the login page; every non-GET must
// carry the session's CSRF token.
func (c *Console) page(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := c.loadSession(r)
		if err != nil {
			c.fail(w, r, nil, err)
			return
		}
		if s == nil {
			if r.Method != http.MethodGet {
				http.Error(w, "sign in first", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			tok := r.Header.Get("X-CSRF-Token")
			if tok == "" {
				tok = r.PostFormValue(csrfField)
			}
			if !hmac.Equal([]byte(tok), []byte(s.csrf)) {
				c.fail(w, r, s, &httpapi.ProblemError{Problem: httpapi.Problem{Status: http.StatusForbidden,
					Title: "Forbidden", Detail: "the form's CSRF token is missing or stale: reload the page and try again"}})
				return
			}
		}
		if err := h(w, r, s); err != nil {
			c.fail(w, r, s, err)
		}
	}
}

// fail renders err as an error page with the API's status and words.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	var pe *httpapi.ProblemError
	status := http.StatusInternalServerError
	msg := "something went wrong; the server log has the details"
	switch {
	case errors.As(err, &pe):
		status, msg = pe.Status, pe.Error()
		if status == http.StatusUnauthorized {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
	case errors.Is(err, context.Canceled):
		return
	default:
		c.logger.Error("console page failed", "path", r.URL.Path, "err", err)
	}
	v := c.newView(r, s, http.StatusText(status))
	v.Flash = ""
	v.Error = msg
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	c.renderStatus(w, "error", v)
}

// view is what every page template gets.
type view struct {
	Title      string
	Nav        string // highlighted menu entry
	WS         *atrium.Workspace
	Workspaces []*atrium.Workspace // for the switcher
	Flash      string
	Error      string
	Field      string // the field the Error names, when there is one
	Data       any

	s      *session
	notice string // what jobs are not isolated from; "" when they are
	access *httpapi.AccessView
	sub    authz.Subject
	az     *authz.Authorizer
}

func (v *view) User() *atrium.User {
	if v.s == nil {
		return nil
	}
	return v.s.user
}

// Notice is the banner of process mode, for signed-in users.
func (v *view) Notice() string {
	if v.s == nil {
		return ""
	}
	return v.notice
}

func (v *view) CSRF() string {
	if v.s == nil {
		return ""
	}
	return v.s.csrf
}

// IsAdmin: the user is a ResourceAdmin (quota tree, all workspaces).
func (v *view) IsAdmin() bool {
	u := v.User()
	return u != nil && slices.Contains(u.PlatformRoles, atrium.RoleResourceAdmin)
}

// Can says whether the user may perform code on the workspace itself.
func (v *view) Can(code string) bool {
	return v.can(code, authz.Resource{Kind: "workspace"})
}

// CanCreate says whether the user may create something of their own with
// code (grants of scope Own allow creating what one will own).
func (v *view) CanCreate(code string) bool {
	return v.can(code, authz.Resource{Kind: "target", OwnerID: v.sub.UserID})
}

// CanOn says whether the user may perform code on a target with this
// owner and accessibility (jobs, assets, rules).
func (v *view) CanOn(code, ownerID, accessibility string) bool {
	return v.can(code, authz.Resource{Kind: "target", OwnerID: ownerID, Accessibility: accessibility})
}

func (v *view) can(code string, res authz.Resource) bool {
	if v.az == nil {
		return false
	}
	if v.WS != nil {
		res.WorkspaceID = v.WS.ID
		if res.Kind == "workspace" {
			res.ID = v.WS.ID
		}
	}
	if v.access != nil {
		res.RequireSeparateApprover = v.access.RequireSeparateApprover
	}
	return v.az.Allowed(v.sub, code, res)
}

// Roles are the user's roles in the current workspace.
func (v *view) Roles() []string {
	if v.access == nil {
		return nil
	}
	return v.access.Roles
}

// newView prepares a page outside any workspace.
func (c *Console) newView(r *http.Request, s *session, title string) *view {
	v := &view{Title: title, s: s, az: c.authz, notice: httpapi.RuntimeInfo(c.Runtime).Notice}
	if s != nil {
		v.sub = authz.Subject{UserID: s.user.ID, PlatformRoles: s.user.PlatformRoles}
		v.Flash = r.URL.Query().Get("flash")
	}
	return v
}

// wsView prepares a page inside the workspace of the path: the workspace
// and the user's access in it (one API call), and the switcher's list.
func (c *Console) wsView(r *http.Request, s *session, title, nav string) (*view, error) {
	v := c.newView(r, s, title)
	v.Nav = nav
	var err error
	if v.access, err = s.client.Access(r.Context(), r.PathValue("ws")); err != nil {
		return nil, err
	}
	v.WS = v.access.Workspace
	v.sub = v.access.Subject()
	if err := c.loadSwitcher(r, s, v); err != nil {
		return nil, err
	}
	return v, nil
}

func (c *Console) loadSwitcher(r *http.Request, s *session, v *view) error {
	if r.URL.Query().Get("partial") != "" {
		return nil // a live fragment has no header
	}
	no := false
	l, err := s.client.ListWorkspaces(r.Context(), httpapi.ListWorkspacesOptions{All: &no, PageOptions: httpapi.PageOptions{PageSize: 100}})
	if err != nil {
		return err
	}
	v.Workspaces = l.Items
	return nil
}

func (c *Console) render(w http.ResponseWriter, name string, v *view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	c.renderStatus(w, name, v)
}

func (c *Console) renderStatus(w http.ResponseWriter, name string, v *view) {
	c.exec(w, name, "layout", v)
}

// partial renders one named block of a page (the live parts poll these).
func (c *Console) partial(w http.ResponseWriter, page, block string, v *view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	c.exec(w, page, block, v)
}

func (c *Console) exec(w http.ResponseWriter, page, block string, v *view) {
	t, ok := c.pages[page]
	if !ok {
		c.logger.Error("console: no such template", "page", page)
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := t.ExecuteTemplate(w, block, v); err != nil {
		c.logger.Error("console: render failed", "page", page, "err", err)
	}
}

// redirect answers a form with a redirect to path, carrying a flash note.
func redirect(w http.ResponseWriter, r *http.Request, path, flash string) {
	if flash != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "flash=" + url.QueryEscape(flash)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// formError puts an API refusal of a form on the page (status, words and
// the field it names) instead of an error page, so the user can fix it.
func formError(w http.ResponseWriter, v *view, err error) error {
	var pe *httpapi.ProblemError
	if !errors.As(err, &pe) || pe.Status >= 500 || pe.Status == http.StatusUnauthorized {
		return err
	}
	v.Error, v.Field = pe.Error(), pe.Field
	// Input the user can fix is shown on the form with 200 (browsers log
	// every 4xx page as an error); refusals keep their status.
	if pe.Status != http.StatusBadRequest && pe.Status != http.StatusConflict && pe.Status != http.StatusUnprocessableEntity {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(pe.Status)
	}
	return nil
}
