package httpapi

// The DSW origin serves DSW instances on a listener of their own (atrium
// serve --dsw-addr), never on the console's origin: a page an instance
// serves is someone's code, and on the console's origin it could read the
// console's pages (and their CSRF tokens) and act as whoever opened it.
//
// A browser gets there with a handoff: POST …/handoff (the console's Open
// button, 'atrium dsw open') asks the authorizer, then stores a one-time
// token (hashed, 60 s) and answers a link to GET /handoff?token=… here.
// Redeeming it sets this origin's session cookie for that one instance and
// redirects to /i/<instance>/, which forwards to the instance's port. Every
// forwarded request is authorized again, through the API's authorizer.
//
// What the instance answers is contained: Set-Cookie (and the headers that
// clear or widen what a page may touch) never reach the browser, and a
// sandboxing Content-Security-Policy gives its pages an opaque origin, so
// their scripts can read or write no cookie and no storage, of this origin
// or any other.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"atrium"
	"atrium/authz"
	"atrium/secret"
)

const (
	// dswCookie is the DSW origin's session cookie; its name starts with
	// "atrium" so stripCredentials keeps it from the instance.
	dswCookie     = "atrium_dsw"
	dswHandoffTTL = time.Minute
	// dswSessionTTL bounds a session; a new one takes a new handoff, which
	// asks the authorizer again.
	dswSessionTTL = 8 * time.Hour
)

// Sandbox flags of proxied responses. Notebook-like pages need scripts,
// forms, popups (a notebook in a new tab), modal dialogs and downloads;
// none of that gives a page an origin. allow-same-origin would: its
// scripts could then set cookies for this host (which, on another port of
// the console's host, reach the console) and read other instances served
// here, so it is added only where the operator vouches that the DSW
// origin shares no cookies with the console (DSWOriginConfig.SameOrigin).
const (
	dswSandbox           = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"
	dswSandboxSameOrigin = dswSandbox + " allow-same-origin"
)

// dswHiddenHeaders are response headers an instance may not send to the
// browser: cookies of any kind, clearing the site's data (Clear-Site-Data
// "cookies" clears every cookie of the host, the console's included), and
// service workers wider than the instance's path.
var dswHiddenHeaders = []string{"Set-Cookie", "Set-Cookie2", "Clear-Site-Data", "Service-Worker-Allowed"}

// dswMethods are the methods forwarded to instances (with WebSocket
// upgrades on GET); TRACE and CONNECT are not.
var dswMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// DSWOriginConfig describes the DSW origin.
type DSWOriginConfig struct {
	// URL is where browsers reach the DSW origin: http(s)://host[:port],
	// without a path. It must not be the console's origin.
	URL string
	// Key signs session cookies; replicas must share it.
	Key []byte
	// SameOrigin lets instance pages keep the DSW origin (sandbox with
	// allow-same-origin), which pages that call back to their own server
	// (fetch, WebSocket with the session cookie) need. Only for a DSW URL
	// on a host name of its own, sharing no cookies with the console's.
	SameOrigin bool
}

// DSWOrigin is the handler of the DSW origin.
type DSWOrigin struct {
	s      *Server
	base   string // the public URL, without a trailing slash
	secure bool   // the public URL is https: cookies are Secure
	key    []byte
	csp    string
	mux    *http.ServeMux
}

// NewDSWOrigin returns the DSW origin of s and makes s mint handoffs to it.
func NewDSWOrigin(s *Server, cfg DSWOriginConfig) (*DSWOrigin, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, atrium.FieldErrorf("url", "%q must be http:// or https:// and a host[:port], without a path", cfg.URL)
	}
	if len(cfg.Key) < 16 {
		return nil, atrium.FieldErrorf("key", "must be at least 16 bytes")
	}
	o := &DSWOrigin{s: s, base: u.Scheme + "://" + u.Host, secure: u.Scheme == "https", key: cfg.Key, csp: dswSandbox, mux: http.NewServeMux()}
	if cfg.SameOrigin {
		if h := u.Hostname(); net.ParseIP(h) != nil || h == "localhost" || strings.HasSuffix(h, ".localhost") {
			return nil, atrium.FieldErrorf("sameOrigin", "needs a DSW URL on a host name of its own, not %s: an IP address or localhost shares its cookies with the console on another port", h)
		}
		o.csp = dswSandboxSameOrigin
	}
	o.csp += "; frame-ancestors 'self'"
	o.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	o.mux.HandleFunc("GET /handoff", o.redeem)
	o.mux.HandleFunc("GET /i/{instanceId}", func(w http.ResponseWriter, r *http.Request) {
		// The session cookie's path ends in a slash; so must the address.
		http.Redirect(w, r, dswInstancePath(r.PathValue("instanceId"))+"/", http.StatusMovedPermanently)
	})
	o.mux.HandleFunc("/i/{instanceId}/{path...}", o.proxy)
	o.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		o.page(w, http.StatusNotFound, "Not found", "This address serves Atrium's DSW instances. Open one from the console's Notebooks page.")
	})
	s.DSW = o
	return o, nil
}

// URL is the public URL of the DSW origin.
func (o *DSWOrigin) URL() string { return o.base }

func (o *DSWOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) { o.mux.ServeHTTP(w, r) }

func (o *DSWOrigin) handoffURL(tok string) string {
	return o.base + "/handoff?token=" + url.QueryEscape(tok)
}

// dswInstancePath is where the DSW origin serves an instance (no trailing slash).
func dswInstancePath(id string) string { return "/i/" + url.PathEscape(id) }

// dswSession is what the session cookie says: who, which instance, until when.
type dswSession struct {
	user, workspace, instance string
	expires                   time.Time
}

func (o *DSWOrigin) mac(payload string) string {
	m := hmac.New(sha256.New, o.key)
	m.Write([]byte("dsw-session\x00" + payload)) // domain-separated from the console's CSRF tokens
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (o *DSWOrigin) seal(s dswSession) string {
	p := base64.RawURLEncoding.EncodeToString([]byte(strings.Join([]string{s.user, s.workspace, s.instance, strconv.FormatInt(s.expires.Unix(), 10)}, "\n")))
	return p + "." + o.mac(p)
}

// session returns the request's valid, unexpired session for instance id.
func (o *DSWOrigin) session(r *http.Request, id string) (dswSession, bool) {
	for _, ck := range r.Cookies() {
		p, mac, ok := strings.Cut(ck.Value, ".")
		if ck.Name != dswCookie || !ok || !hmac.Equal([]byte(mac), []byte(o.mac(p))) {
			continue
		}
		b, err := base64.RawURLEncoding.DecodeString(p)
		f := strings.Split(string(b), "\n")
		if err != nil || len(f) != 4 {
			continue
		}
		exp, err := strconv.ParseInt(f[3], 10, 64)
		if s := (dswSession{f[0], f[1], f[2], time.Unix(exp, 0)}); err == nil && s.instance == id && o.s.Now().Before(s.expires) {
			return s, true
		}
	}
	return dswSession{}, false
}

// redeem trades a handoff for a session cookie of this origin, scoped to
// the instance's path, and sends the browser there.
func (o *DSWOrigin) redeem(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	h, err := o.s.Store.RedeemDSWHandoff(r.Context(), secret.HashToken(r.URL.Query().Get("token")))
	if atrium.ErrorCode(err) == atrium.ENOTFOUND {
		o.refuse(w, r, atrium.Errorf(atrium.EUNAUTHENTICATED, "this link was already used or has expired: open the instance again from the console"))
		return
	} else if err != nil {
		o.refuse(w, r, err)
		return
	}
	r.SetPathValue("instanceId", h.InstanceID)
	sess := dswSession{user: h.UserID, workspace: h.WorkspaceID, instance: h.InstanceID, expires: o.s.Now().Add(dswSessionTTL)}
	if _, _, err := o.authorize(w, r, sess); err != nil {
		o.refuse(w, r, err)
		return
	}
	path := dswInstancePath(h.InstanceID) + "/"
	http.SetCookie(w, &http.Cookie{Name: dswCookie, Value: o.seal(sess), Path: path, MaxAge: int(dswSessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: o.secure || r.TLS != nil})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// authorize asks the API's one authorizer whether the session's user may
// use the instance named by the path, loading user, membership and
// instance exactly as the API's handoff did.
func (o *DSWOrigin) authorize(w http.ResponseWriter, r *http.Request, sess dswSession) (*call, *atrium.Job, error) {
	u, err := o.s.Store.FindUserByID(r.Context(), sess.user)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND || (err == nil && u.Disabled) {
		return nil, nil, atrium.Errorf(atrium.EUNAUTHENTICATED, "your session is no longer valid: open the instance again from the console")
	} else if err != nil {
		return nil, nil, err
	}
	c := &call{s: o.s, w: w, r: r, user: u, sub: authz.Subject{UserID: u.ID, PlatformRoles: u.PlatformRoles}}
	if err := o.s.loadWorkspace(c, sess.workspace); err != nil {
		return nil, nil, err
	}
	j, err := c.jobOf(dswInstances, dswOpenCode)
	return c, j, err
}

// proxy forwards a request with a valid session for the instance to its
// port: the path after /i/<instance>, the query, the body and WebSocket
// upgrades.
func (o *DSWOrigin) proxy(w http.ResponseWriter, r *http.Request) {
	if !slices.Contains(dswMethods, r.Method) {
		w.Header().Set("Allow", strings.Join(dswMethods, ", "))
		o.page(w, http.StatusMethodNotAllowed, "Method not allowed", r.Method+" is not forwarded to DSW instances.")
		return
	}
	id := r.PathValue("instanceId")
	sess, ok := o.session(r, id)
	if !ok {
		o.refuse(w, r, atrium.Errorf(atrium.EUNAUTHENTICATED, "no session for DSW instance %s here: open it from the console's Notebooks page or with 'atrium dsw open %s'", id, id))
		return
	}
	c, j, err := o.authorize(w, r, sess)
	ep := ""
	if err == nil {
		ep, err = instanceEndpoint(j)
	}
	if err != nil {
		o.refuse(w, r, err)
		return
	}
	c.touchInstance(j)

	prefix := dswInstancePath(j.ID)
	rest, raw := "/"+r.PathValue("path"), ""
	if esc := r.URL.EscapedPath(); strings.HasPrefix(esc, prefix+"/") {
		raw = esc[len(prefix):]
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", ep
			pr.Out.URL.Path, pr.Out.URL.RawPath = rest, ""
			if raw != "" && raw != rest {
				pr.Out.URL.RawPath = raw
			}
			pr.Out.URL.RawQuery = pr.In.URL.RawQuery
			pr.Out.Host = pr.In.Host // servers that check Origin against Host (Jupyter) see the browser's
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Forwarded-Prefix", prefix)
			stripCredentials(pr.Out.Header)
		},
		ModifyResponse: func(resp *http.Response) error {
			for _, h := range dswHiddenHeaders {
				resp.Header.Del(h)
			}
			// Added, not set: a policy of the instance's own still applies too.
			resp.Header.Add("Content-Security-Policy", o.csp)
			resp.Header.Set("X-Frame-Options", "SAMEORIGIN")
			return nil
		},
		FlushInterval: -1, // stream (server-sent events, long polls) as it comes
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			o.refuse(w, r, atrium.Errorf(atrium.EUNAVAILABLE, "DSW instance %s does not answer on its port: %v", j.ID, err))
		},
	}
	rp.ServeHTTP(w, r)
}

// stripCredentials removes what authenticates the browser to Atrium from a
// request bound for an instance: the Authorization header and cookies
// whose name starts with "atrium" (the console's session, which a browser
// also sends here when the DSW origin is another port of the console's
// host, and this origin's own session).
func stripCredentials(h http.Header) {
	h.Del("Authorization")
	cookies := (&http.Request{Header: h}).Cookies()
	h.Del("Cookie")
	var keep []string
	for _, ck := range cookies {
		if !strings.HasPrefix(strings.ToLower(ck.Name), "atrium") {
			keep = append(keep, ck.Name+"="+ck.Value)
		}
	}
	if len(keep) > 0 {
		h.Set("Cookie", strings.Join(keep, "; "))
	}
}

// refuse answers err as a page of this origin, with the API's status.
func (o *DSWOrigin) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the browser went away
	}
	status, msg := ErrorStatus(err), atrium.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		o.s.Logger.Error("DSW origin", "path", r.URL.Path, "err", err)
		msg = "something went wrong; the server log has the details"
	} else {
		o.s.Logger.Info("DSW origin refused", "path", r.URL.Path, "status", status, "reason", msg)
	}
	o.page(w, status, http.StatusText(status), msg)
}

var dswPage = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}} · Atrium</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:40rem}</style>
</head><body><h1>{{.Title}}</h1><p>{{.Message}}</p></body></html>
`))

// page is one of this origin's own pages: no script, no framing.
func (o *DSWOrigin) page(w http.ResponseWriter, status int, title, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = dswPage.Execute(w, struct{ Title, Message string }{title, msg})
}
