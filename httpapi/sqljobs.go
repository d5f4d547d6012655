package httpapi

// SQL jobs, the MaxCompute analogue (issue 8): warehouse connections
// (conn-…, assets of kind "connection" whose password is write-only and
// sealed with the connection id as associated data) and SQL jobs (sql-…,
// jobs of Kind SQL). Handlers record intent; package sqlrunner runs the
// queued jobs and follows stops.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"atrium"
	"atrium/authz"
)

// ConnectionRequest registers a warehouse: a PostgreSQL URL without
// password and the password, which is write-only.
type ConnectionRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url"`
	Password    string `json:"password,omitempty"`
}

// ConnectionView is a connection as answers show it: never its password.
type ConnectionView struct {
	ConnectionID string    `json:"connectionId"`
	WorkspaceID  string    `json:"workspaceId"`
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	URL          string    `json:"url"`
	HasPassword  bool      `json:"hasPassword"`
	Owner        string    `json:"owner"`
	OwnerName    string    `json:"ownerName"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

func connectionView(a *atrium.Asset) *ConnectionView {
	var spec atrium.ConnectionSpec
	_ = jsonUnmarshal(string(a.Spec), &spec)
	return &ConnectionView{ConnectionID: a.ID, WorkspaceID: a.WorkspaceID, Name: a.Name, Description: a.Description,
		URL: spec.URL, HasPassword: len(a.Secret) > 0, Owner: a.Owner, OwnerName: a.OwnerName, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// SQLJobRequest submits a SQL job.
type SQLJobRequest struct {
	DisplayName   string          `json:"displayName"`
	Description   string          `json:"description,omitempty"`
	ConnectionID  string          `json:"connectionId"`
	SQL           string          `json:"sql"`
	Timeout       atrium.Duration `json:"timeout,omitempty"`
	Accessibility string          `json:"accessibility,omitempty"`
}

const (
	sqlDefaultTimeout = 5 * time.Minute
	sqlMaxTimeout     = 24 * time.Hour
	sqlMaxScript      = 1 << 20
)

var sqlJobs = jobKind{kind: atrium.KindSQL, param: "sqlJobId", noun: "SQL job",
	get: "MaxCompute:GetSQLJob", stop: "MaxCompute:StopSQLJob", update: "MaxCompute:UpdateSQLJob", delete: "MaxCompute:DeleteSQLJob"}

func sqlRoutes(ws string) []*route {
	cs := ws + "/connections"
	c1 := cs + "/{connectionId}"
	sj := ws + "/sql-jobs"
	one := sj + "/{sqlJobId}"
	k := sqlJobs
	return []*route{
		{method: "POST", path: cs, code: "MaxCompute:CreateConnection", status: http.StatusCreated,
			summary: "Register a warehouse connection: name, a PostgreSQL url without password, and the password (write-only, encrypted at rest)",
			in:      ConnectionRequest{}, out: ConnectionView{}, h: createConnection},
		{method: "GET", path: cs, code: "MaxCompute:ListConnections", status: http.StatusOK,
			summary: "List warehouse connections (never their passwords)", query: pageParams, out: List[*ConnectionView]{}, h: listConnections},
		{method: "GET", path: c1, code: "MaxCompute:GetConnection", status: http.StatusOK, self: true,
			summary: "Read a warehouse connection (hasPassword, never the password)", out: ConnectionView{}, h: getConnection},
		{method: "PUT", path: c1, code: "MaxCompute:UpdateConnection", status: http.StatusOK, self: true,
			summary: "Change a warehouse connection's name, description, url or password (absent fields stay; an empty password removes it)",
			in:      UpdateConnectionRequest{}, out: ConnectionView{}, h: updateConnection},
		{method: "DELETE", path: c1, code: "MaxCompute:DeleteConnection", status: http.StatusNoContent, self: true,
			summary: "Delete a warehouse connection", h: deleteConnection},
		{method: "POST", path: sj, code: "MaxCompute:CreateSQLJob", status: http.StatusCreated,
			summary: "Submit a SQL job: displayName, connectionId, sql, timeout (default 5m, at most 24h), accessibility. It runs against the connection; its result (rows affected, first 100 rows of the last statement returning rows) lands in spec.sql.result",
			in:      SQLJobRequest{}, out: atrium.Job{}, h: createSQLJob},
		{method: "GET", path: sj, code: "MaxCompute:ListSQLJobs", status: http.StatusOK,
			summary: "List SQL jobs you may see (your own and PUBLIC ones; Operators and Admins all), newest first",
			query:   params([]param{{"status", "comma-separated statuses"}, {"creator", "creator's user id"}}, pageParams),
			out:     List[*atrium.Job]{}, h: k.list},
		{method: "GET", path: one, code: "MaxCompute:GetSQLJob", status: http.StatusOK, self: true,
			summary: "Read a SQL job: status, reason, statusHistory and spec.sql.result", out: atrium.Job{}, h: k.getOne},
		{method: "POST", path: one + "/stop", code: "MaxCompute:StopSQLJob", status: http.StatusOK, self: true,
			summary: "Stop a SQL job: a queued one is Stopped at once, a running one goes Stopping → Stopped as its query is cancelled", out: atrium.Job{}, h: k.stopOne},
		{method: "DELETE", path: one, code: "MaxCompute:DeleteSQLJob", status: http.StatusNoContent, self: true,
			summary: "Delete an ended SQL job", h: k.deleteOne},
		{method: "GET", path: one + "/events", code: "MaxCompute:GetSQLJob", status: http.StatusOK, self: true,
			summary: "What happened to a SQL job, oldest first", out: List[*atrium.JobEvent]{}, h: k.events},
	}
}

func connectionResource(a *atrium.Asset) authz.Resource {
	return authz.Resource{WorkspaceID: a.WorkspaceID, Kind: "connection", ID: a.ID, OwnerID: a.Owner, Accessibility: atrium.AccessPublic}
}

// checkPostgresURL accepts postgres:// or postgresql:// URLs without a password.
func checkPostgresURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return atrium.FieldErrorf(field, "must be a PostgreSQL URL such as postgres://user@host:5432/db?sslmode=disable")
	}
	if _, ok := u.User.Password(); ok || u.Query().Has("password") {
		return atrium.FieldErrorf(field, "must not hold a password; give it in the write-only password field")
	}
	return nil
}

func createConnection(c *call) (any, error) {
	var req ConnectionRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	if err := checkAssetName("name", req.Name); err != nil {
		return nil, err
	}
	if err := checkDescription("description", req.Description); err != nil {
		return nil, err
	}
	if err := checkPostgresURL("url", req.URL); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(atrium.ConnectionSpec{URL: req.URL})
	if err != nil {
		return nil, err
	}
	a := &atrium.Asset{ID: atrium.NewID(atrium.AssetPrefix[atrium.AssetConnection]), WorkspaceID: c.ws.ID, Kind: atrium.AssetConnection,
		Name: req.Name, Description: req.Description, Owner: c.user.ID, OwnerName: c.user.Name, Accessibility: atrium.AccessPublic,
		Labels: map[string]string{}, Spec: raw}
	if req.Password != "" {
		if a.Secret, err = c.seal("password", req.Password, a.ID); err != nil {
			return nil, err
		}
	}
	if err := c.s.Store.CreateAsset(c.ctx(), a); err != nil {
		if atrium.ErrorCode(err) == atrium.ECONFLICT {
			return nil, &atrium.Error{Code: atrium.ECONFLICT, Field: "name", Message: "the workspace already has a connection named " + `"` + a.Name + `"`}
		}
		return nil, err
	}
	return connectionView(a), nil
}

func listConnections(c *call) (any, error) {
	p, err := readPage(c.r.URL.Query())
	if err != nil {
		return nil, err
	}
	items, total, err := c.s.Store.FindAssets(c.ctx(), atrium.AssetFilter{WorkspaceID: c.ws.ID, Kind: atrium.AssetConnection,
		Offset: p.offset, Limit: p.limit})
	if err != nil {
		return nil, err
	}
	out := make([]*ConnectionView, len(items))
	for i, a := range items {
		out[i] = connectionView(a)
	}
	return newList(out, total, p), nil
}

// connectionOf loads the connection id names in this workspace; others are 404.
func (c *call) connectionOf(id, code string) (*atrium.Asset, error) {
	a, err := c.s.Store.FindAssetByID(c.ctx(), id)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND || (err == nil && (a.WorkspaceID != c.ws.ID || a.Kind != atrium.AssetConnection)) {
		c.authorized = true
		return nil, atrium.Errorf(atrium.ENOTFOUND, "connection %q not found", id)
	} else if err != nil {
		return nil, err
	}
	if err := c.authorize(code, connectionResource(a)); err != nil {
		return nil, err
	}
	return a, nil
}

func getConnection(c *call) (any, error) {
	a, err := c.connectionOf(c.r.PathValue("connectionId"), "MaxCompute:GetConnection")
	if err != nil {
		return nil, err
	}
	return connectionView(a), nil
}

// UpdateConnectionRequest changes a connection; absent fields stay.
type UpdateConnectionRequest struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	URL         *string `json:"url,omitempty"`
	Password    *string `json:"password,omitempty"`
}

func updateConnection(c *call) (any, error) {
	var req UpdateConnectionRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	a, err := c.connectionOf(c.r.PathValue("connectionId"), "MaxCompute:UpdateConnection")
	if err != nil {
		return nil, err
	}
	upd := atrium.AssetUpdate{Name: req.Name, Description: req.Description}
	if req.Name != nil {
		if err := checkAssetName("name", *req.Name); err != nil {
			return nil, err
		}
	}
	if req.Description != nil {
		if err := checkDescription("description", *req.Description); err != nil {
			return nil, err
		}
	}
	if req.URL != nil {
		if err := checkPostgresURL("url", *req.URL); err != nil {
			return nil, err
		}
		raw, err := json.Marshal(atrium.ConnectionSpec{URL: *req.URL})
		if err != nil {
			return nil, err
		}
		rm := json.RawMessage(raw)
		upd.Spec = &rm
	}
	if req.Password != nil {
		sealed := []byte{}
		if *req.Password != "" {
			if sealed, err = c.seal("password", *req.Password, a.ID); err != nil {
				return nil, err
			}
		}
		upd.Secret = &sealed
	}
	a2, err := c.s.Store.UpdateAsset(c.ctx(), a.ID, upd)
	if err != nil {
		return nil, err
	}
	return connectionView(a2), nil
}

func deleteConnection(c *call) (any, error) {
	a, err := c.connectionOf(c.r.PathValue("connectionId"), "MaxCompute:DeleteConnection")
	if err != nil {
		return nil, err
	}
	return nil, c.s.Store.DeleteAsset(c.ctx(), a.ID)
}

func createSQLJob(c *call) (any, error) {
	var req SQLJobRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.DisplayName) == "" {
		return nil, atrium.FieldErrorf("displayName", "is required")
	}
	if len([]rune(req.DisplayName)) > 256 {
		return nil, atrium.FieldErrorf("displayName", "must be at most 256 characters")
	}
	if strings.TrimSpace(req.SQL) == "" {
		return nil, atrium.FieldErrorf("sql", "is required")
	}
	if len(req.SQL) > sqlMaxScript {
		return nil, atrium.FieldErrorf("sql", "must be at most %d bytes", sqlMaxScript)
	}
	timeout := time.Duration(req.Timeout)
	switch {
	case timeout == 0:
		timeout = sqlDefaultTimeout
	case timeout > sqlMaxTimeout:
		return nil, atrium.FieldErrorf("timeout", "must be at most 24h")
	}
	if err := checkAccessibility(&req.Accessibility); err != nil {
		return nil, err
	}
	if req.ConnectionID == "" {
		return nil, atrium.FieldErrorf("connectionId", "is required")
	}
	a, err := c.s.Store.FindAssetByID(c.ctx(), req.ConnectionID)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND || (err == nil && (a.WorkspaceID != c.ws.ID || a.Kind != atrium.AssetConnection)) {
		return nil, atrium.FieldErrorf("connectionId", "connection %q not found in this workspace", req.ConnectionID)
	} else if err != nil {
		return nil, err
	}
	now := c.s.Now().UTC()
	spec := atrium.JobSpec{DisplayName: req.DisplayName, Description: req.Description, JobType: "SQL", JobSpecs: []atrium.RoleSpec{},
		Accessibility: req.Accessibility, MaxRunningTime: atrium.Duration(timeout),
		SQL: &atrium.SQLJobSpec{ConnectionID: a.ID, Script: req.SQL, Timeout: atrium.Duration(timeout)}}
	j := atrium.NewSQLJob(c.ws.ID, c.user.ID, c.user.Name, spec, now)
	if err := c.s.Store.CreateJob(c.ctx(), j); err != nil {
		return nil, err
	}
	if c.s.SQL != nil {
		c.s.SQL.Wake()
	}
	return j, nil
}
