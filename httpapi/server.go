// Package httpapi serves Atrium's REST API under /api/v1: routes declared as
// data (method, path, permission code, types), one authentication and
// authorization path for all of them, problem+json errors, the operation log,
// Prometheus metrics and the OpenAPI document generated from the same table.
// It also holds the Go client the CLI uses.
package httpapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"atrium"
	"atrium/authz"
	"atrium/secret"
)

// Server is the HTTP API over a store.
type Server struct {
	Store  atrium.Store
	Authz  *authz.Authorizer
	Logger *slog.Logger
	Now    func() time.Time
	// Jobs connects job handlers to the scheduling loop and executors; nil
	// in tests that only need the store (jobs then wait for a pass).
	Jobs JobRuntime
	// Secrets seals write-only secrets (code-source tokens) before they are
	// stored; handlers that take secrets refuse them when it is nil.
	Secrets *secret.Box
	// SQL wakes the SQL runner when a SQL job is submitted or stopped; nil
	// in tests without one (jobs then wait for its next poll).
	SQL interface{ Wake() }
	// Pipelines wakes the pipeline controller when a run is created,
	// terminated or re-run; nil in tests without one.
	Pipelines interface{ Wake() }
	// Console serves every path outside the API, health and metrics (the
	// web console); nil serves a plain page at "/" and 404 elsewhere.
	Console http.Handler
	// Runtime is what jobs run in, RuntimeProcess (the default) or
	// RuntimeContainer; GET /api/v1/server tells users.
	Runtime string
	// DSW is the origin that serves DSW instances (NewDSWOrigin sets it);
	// nil when this server serves none (handoffs are then unavailable).
	DSW *DSWOrigin

	routes   []*route
	mux      *http.ServeMux
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewServer wires the routes; logger may be nil.
func NewServer(store atrium.Store, logger *slog.Logger) *Server {
	s := &Server{
		Store:    store,
		Authz:    authz.New(),
		Logger:   cmp.Or(logger, slog.New(slog.DiscardHandler)),
		Now:      time.Now,
		Runtime:  RuntimeProcess,
		mux:      http.NewServeMux(),
		registry: prometheus.NewRegistry(),
	}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "atrium_http_requests_total", Help: "API requests by method, route and status code.",
	}, []string{"method", "route", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "atrium_http_request_duration_seconds", Help: "API request latency by method and route.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"method", "route"})
	s.registry.MustRegister(s.requests, s.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	s.registerEventMetrics()
	s.routes = s.apiRoutes()
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case s.Console != nil:
			s.Console.ServeHTTP(w, r)
		case r.URL.Path == "/" && r.Method == http.MethodGet:
			home(w, r)
		default:
			http.NotFound(w, r)
		}
	})
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /api/v1/openapi.json", s.openAPI)
	// Instances were once forwarded here, on the console's origin; they
	// are served only by the DSW origin now, reached through a handoff.
	s.mux.HandleFunc("/api/v1/workspaces/{workspaceId}/dsw-instances/{instanceId}/proxy/", func(w http.ResponseWriter, r *http.Request) {
		reqID := atrium.NewID(atrium.PrefixRequest)
		w.Header().Set("X-Request-Id", reqID)
		writeProblem(w, atrium.Errorf(atrium.ENOTFOUND, "DSW instances are no longer served under the API: POST …/dsw-instances/%s/handoff for a one-time link to the DSW origin (the console's Open button and 'atrium dsw open' do it)",
			r.PathValue("instanceId")), reqID)
	})
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		reqID := atrium.NewID(atrium.PrefixRequest)
		w.Header().Set("X-Request-Id", reqID)
		writeProblem(w, atrium.Errorf(atrium.ENOTFOUND, "no API route %s %s (see /api/v1/openapi.json)", r.Method, r.URL.Path), reqID)
	})
	return s
}

// Registry exposes the metrics registry so other services can add collectors.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		s.Logger.Warn("readiness check failed", "err", err)
		writeProblem(w, atrium.Errorf(atrium.EUNAVAILABLE, "database is not reachable"), "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// route is one API operation.
type route struct {
	method  string
	path    string
	code    string // permission code checked for the call
	status  int    // status on success
	summary string
	in      any // request body type, nil for none
	out     any // response body type, nil for none
	query   []param
	// auth says how the caller proves who they are.
	auth authMode
	// self: the handler authorizes against its target itself (c.authorize);
	// otherwise the wrapper authorizes code on the workspace or platform.
	self bool
	// stream: the handler writes the response body itself (logs).
	stream bool
	// body documents a non-JSON request body (a YAML job spec).
	body string
	// alt documents other success answers by status (a dry run's 200).
	alt map[int]any
	h   func(c *call) (any, error)
}

type param struct {
	name, desc string
}

type authMode int

const (
	authToken        authMode = iota // Bearer token only
	authTokenOrBasic                 // Bearer token or HTTP Basic name:password
)

// call is the state of one API request.
type call struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	rt    *route
	reqID string

	user  *atrium.User
	sub   authz.Subject
	ws    *atrium.Workspace // set for routes under /workspaces/{workspaceId}
	audit *atrium.Audit

	status     int    // overrides rt.status for this answer (a dry run is 200, not 201)
	authorized bool   // some authorize call ran
	denied     bool   // the error came from the authorizer
	loginName  string // the name a password sign-in claimed, for the log
	streamed   bool   // the handler wrote the response itself (an event stream)
}

func (c *call) ctx() context.Context { return c.r.Context() }

// authorize asks the one authorizer; every handler goes through here.
func (c *call) authorize(code string, res authz.Resource) error {
	c.authorized = true
	if c.ws != nil && res.WorkspaceID == "" {
		res.WorkspaceID = c.ws.ID
	}
	if err := c.s.Authz.Authorize(c.sub, code, res); err != nil {
		c.denied = true
		return err
	}
	return nil
}

// allowed is authorize for filtering and offering actions; it never marks a denial.
func (c *call) allowed(code string, res authz.Resource) bool {
	if c.ws != nil && res.WorkspaceID == "" {
		res.WorkspaceID = c.ws.ID
	}
	return c.s.Authz.Allowed(c.sub, code, res)
}

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// statusWriter remembers the status for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) wrap(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		reqID := r.Header.Get("X-Request-Id")
		if !requestIDRE.MatchString(reqID) {
			reqID = atrium.NewID(atrium.PrefixRequest)
		}
		w.Header().Set("X-Request-Id", reqID)
		sw := &statusWriter{ResponseWriter: w}
		c := &call{s: s, w: sw, r: r, rt: rt, reqID: reqID}
		defer func() {
			if p := recover(); p != nil {
				s.Logger.Error("panic in handler", "route", rt.path, "requestId", reqID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeProblem(sw, errors.New("panic"), reqID)
				}
			}
			status := sw.status
			s.requests.WithLabelValues(rt.method, rt.path, fmt.Sprint(status)).Inc()
			s.latency.WithLabelValues(rt.method, rt.path).Observe(time.Since(start).Seconds())
			attrs := []any{"method", rt.method, "route", rt.path, "status", status,
				"durationMs", time.Since(start).Milliseconds(), "requestId", reqID}
			if c.user != nil {
				attrs = append(attrs, "user", c.user.Name)
			}
			s.Logger.Info("request", attrs...)
		}()
		out, err := s.serve(c)
		if u, ok := s.Store.(interface{ Unavailable(error) bool }); ok && err != nil && u.Unavailable(err) {
			// The database is unreachable: nothing was written, try again.
			s.Logger.Warn("database unreachable", "route", rt.path, "requestId", reqID, "err", err)
			err = atrium.Errorf(atrium.EUNAVAILABLE, "the database is unreachable; retry shortly")
		}
		if err != nil {
			if atrium.ErrorCode(err) == atrium.EINTERNAL {
				s.Logger.Error("internal error", "route", rt.path, "requestId", reqID, "err", err)
			}
			s.logOutcome(c, err)
			writeProblem(sw, err, reqID)
			return
		}
		s.logOutcome(c, nil)
		switch {
		case rt.stream, c.streamed:
		case rt.status == http.StatusNoContent:
			sw.WriteHeader(http.StatusNoContent)
		default:
			writeJSON(sw, cmp.Or(c.status, rt.status), out)
		}
	})
}

func (s *Server) serve(c *call) (any, error) {
	rt := c.rt
	if err := s.authenticate(c); err != nil {
		return nil, err
	}
	if err := checkQuery(c.r, rt); err != nil {
		return nil, err
	}
	c.sub = authz.Subject{UserID: c.user.ID, PlatformRoles: c.user.PlatformRoles}
	ctx := c.r.Context()
	if c.r.Method != http.MethodGet {
		c.audit = &atrium.Audit{ActorID: c.user.ID, ActorName: c.user.Name, Action: rt.code, RequestID: c.reqID, Status: rt.status}
		ctx = atrium.WithAudit(ctx, c.audit)
		c.r = c.r.WithContext(ctx)
	}
	if id := c.r.PathValue("workspaceId"); id != "" {
		if err := s.loadWorkspace(c, id); err != nil {
			return nil, err
		}
	}
	if !rt.self {
		res := authz.Resource{Kind: "workspace"}
		if c.ws != nil {
			res.WorkspaceID, res.ID = c.ws.ID, c.ws.ID
		}
		if err := c.authorize(rt.code, res); err != nil {
			return nil, err
		}
	}
	out, err := rt.h(c)
	if err == nil && !c.authorized {
		// A handler that never asked the authorizer is a bug; fail closed.
		return nil, fmt.Errorf("route %s %s answered without authorization", rt.method, rt.path)
	}
	return out, err
}

// loadWorkspace resolves the workspace and the caller's membership of it.
// Unknown and foreign workspaces look the same: 404.
func (s *Server) loadWorkspace(c *call, id string) error {
	ws, err := s.Store.FindWorkspaceByID(c.ctx(), id)
	if err != nil {
		return err
	}
	c.ws = ws
	m, err := s.Store.FindMemberByUser(c.ctx(), id, c.user.ID)
	switch atrium.ErrorCode(err) {
	case "":
		c.sub.Member, c.sub.Roles = true, m.Roles
		var custom []*atrium.Role
		for _, r := range m.Roles {
			if !atrium.IsBuiltinRole(r) {
				if role, err := s.Store.FindRole(c.ctx(), id, r); err == nil {
					custom = append(custom, role)
				}
			}
		}
		if len(custom) > 0 {
			c.sub.Custom = s.Authz.CustomGrants(custom)
		}
	case atrium.ENOTFOUND:
	default:
		return err
	}
	return nil
}

// logOutcome records denials and failed mutations in the operation log;
// successful mutations were recorded by the store in their own transaction.
func (s *Server) logOutcome(c *call, err error) {
	if c.user == nil {
		// Failed password sign-ins are recorded platform-wide under the
		// claimed name, so guessing shows up; other anonymous calls are not.
		if c.loginName != "" && err != nil {
			s.appendLog(c, &atrium.OperationLog{ActorName: c.loginName, Action: c.rt.code, Target: c.r.URL.Path,
				RequestID: c.reqID, Result: atrium.ResultDenied, StatusCode: ErrorStatus(err), Detail: atrium.ErrorMessage(err)})
		}
		return
	}
	mutating := c.r.Method != http.MethodGet
	if err == nil && (!mutating || c.audit.Recorded) {
		return
	}
	if err != nil && !c.denied && !mutating {
		return
	}
	l := &atrium.OperationLog{
		ActorID: c.user.ID, ActorName: c.user.Name, Action: c.rt.code,
		Target: c.r.URL.Path, RequestID: c.reqID, Result: atrium.ResultSucceeded, StatusCode: c.rt.status,
	}
	// A stranger's probe goes to the platform log only: the workspace's
	// members should not learn who looked for it.
	if c.ws != nil && (c.sub.Member || c.user.IsResourceAdmin()) {
		l.WorkspaceID = c.ws.ID
	}
	if err != nil {
		l.Result, l.StatusCode, l.Detail = atrium.ResultFailed, ErrorStatus(err), atrium.ErrorMessage(err)
		if c.denied {
			l.Result = atrium.ResultDenied
		}
	}
	s.appendLog(c, l)
}

func (s *Server) appendLog(c *call, l *atrium.OperationLog) {
	// Use a fresh context: the client may have gone, the record must not.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Store.AppendOperationLog(ctx, l); err != nil {
		s.Logger.Error("cannot write operation log", "requestId", c.reqID, "err", err)
	}
}

// checkQuery rejects query parameters the route does not document.
func checkQuery(r *http.Request, rt *route) error {
	for name := range r.URL.Query() {
		known := false
		for _, p := range rt.query {
			known = known || p.name == name
		}
		if !known {
			names := make([]string, len(rt.query))
			for i, p := range rt.query {
				names[i] = p.name
			}
			if len(names) == 0 {
				return atrium.FieldErrorf(name, "is not a query parameter of %s %s (it takes none)", rt.method, rt.path)
			}
			return atrium.FieldErrorf(name, "is not a query parameter of %s %s (known: %s)", rt.method, rt.path, strings.Join(names, ", "))
		}
	}
	return nil
}
