package httpapi

// Image registries: where pods pull images from, with credentials.
// Platform-wide, registered by ResourceAdmin. The password (or token) is
// write-only: sealed with the server's secret box, the registry id as
// associated data, and shown only as hasPassword. Every signed-in user may
// list names and hosts, to know which images can be pulled.

import (
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"atrium"
	"atrium/authz"
)

// RegistryRequest registers an image registry.
type RegistryRequest struct {
	Name string `json:"name"`
	// Host is host[:port] as image names spell it: registry.example.com,
	// 127.0.0.1:5000; no scheme, no path.
	Host     string `json:"host"`
	Username string `json:"username,omitempty"`
	// Password is the password or access token; write-only.
	Password string `json:"password,omitempty"`
	// Insecure pulls over plain HTTP or without verifying TLS.
	Insecure    bool   `json:"insecure,omitempty"`
	Description string `json:"description,omitempty"`
}

// UpdateRegistryRequest changes a registry; absent fields stay, an empty
// password removes it.
type UpdateRegistryRequest struct {
	Name        *string `json:"name,omitempty"`
	Host        *string `json:"host,omitempty"`
	Username    *string `json:"username,omitempty"`
	Password    *string `json:"password,omitempty"`
	Insecure    *bool   `json:"insecure,omitempty"`
	Description *string `json:"description,omitempty"`
}

// RegistryView is a registry as answers show it: never its password, and
// the username only to those who may read the registry (ResourceAdmin).
type RegistryView struct {
	RegistryID  string    `json:"registryId"`
	Name        string    `json:"name"`
	Host        string    `json:"host"`
	Username    string    `json:"username,omitempty"`
	HasPassword bool      `json:"hasPassword"`
	Insecure    bool      `json:"insecure"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

func registryView(r *atrium.Registry, withUser bool) *RegistryView {
	v := &RegistryView{RegistryID: r.ID, Name: r.Name, Host: r.Host, HasPassword: len(r.Password) > 0, Insecure: r.Insecure,
		Description: r.Description, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if withUser {
		v.Username = r.Username
	}
	return v
}

func registryRoutes() []*route {
	base := "/api/v1/registries"
	one := base + "/{registryId}"
	return []*route{
		{method: "POST", path: base, code: "Registry:CreateRegistry", status: http.StatusCreated,
			summary: "Register an image registry (ResourceAdmin): name, host (host[:port], no scheme or path), username and password or token " +
				"(write-only, encrypted at rest, never shown), insecure (plain HTTP or unverified TLS). Jobs whose image names the host pull with these credentials",
			in: RegistryRequest{}, out: RegistryView{}, h: createRegistry},
		{method: "GET", path: base, code: "Registry:ListRegistries", status: http.StatusOK,
			summary: "List image registries: names and hosts for everyone, usernames for ResourceAdmin, never passwords",
			out:     List[*RegistryView]{}, h: listRegistries},
		{method: "GET", path: one, code: "Registry:GetRegistry", status: http.StatusOK,
			summary: "Read an image registry (hasPassword, never the password)", out: RegistryView{}, h: getRegistry},
		{method: "PUT", path: one, code: "Registry:UpdateRegistry", status: http.StatusOK,
			summary: "Change an image registry's name, host, username, password, insecure or description (absent fields stay; an empty password removes it)",
			in:      UpdateRegistryRequest{}, out: RegistryView{}, h: updateRegistry},
		{method: "DELETE", path: one, code: "Registry:DeleteRegistry", status: http.StatusNoContent,
			summary: "Delete an image registry; its images are then pulled without credentials", h: deleteRegistry},
	}
}

// checkUsername: the user part of user:password, so no ':'.
func checkUsername(u string) error {
	if utf8.RuneCountInString(u) > 256 || strings.ContainsRune(u, ':') || strings.IndexFunc(u, unicode.IsControl) >= 0 {
		return atrium.FieldErrorf("username", "must be at most 256 characters, without ':' or control characters")
	}
	return nil
}

// checkCredentials: a username and a password go together.
func checkCredentials(username string, hasPassword bool) error {
	switch {
	case username != "" && !hasPassword:
		return atrium.FieldErrorf("password", "is required with a username: give both, or neither for a registry that needs no sign-in")
	case username == "" && hasPassword:
		return atrium.FieldErrorf("username", "is required with a password (for an access token, the user name the registry expects with it)")
	}
	return nil
}

// checkRegistryTaken names the field of a conflict before the store
// refuses it.
func (c *call) checkRegistryTaken(id, name, host string) error {
	all, err := c.s.Store.FindRegistries(c.ctx())
	if err != nil {
		return err
	}
	for _, r := range all {
		switch {
		case r.ID == id:
		case r.Name == name:
			return &atrium.Error{Code: atrium.ECONFLICT, Field: "name", Message: fmt.Sprintf("name: a registry named %q is already registered", name)}
		case r.Host == host:
			return &atrium.Error{Code: atrium.ECONFLICT, Field: "host",
				Message: fmt.Sprintf("host: %q is already registered as registry %q; change that one instead", host, r.Name)}
		}
	}
	return nil
}

func createRegistry(c *call) (any, error) {
	var req RegistryRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	if err := atrium.ValidateComputeName("name", req.Name); err != nil {
		return nil, err
	}
	host, err := atrium.ParseRegistryHost("host", req.Host)
	if err != nil {
		return nil, err
	}
	if err := checkUsername(req.Username); err != nil {
		return nil, err
	}
	if err := checkCredentials(req.Username, req.Password != ""); err != nil {
		return nil, err
	}
	if err := atrium.ValidateDescription(req.Description); err != nil {
		return nil, err
	}
	r := &atrium.Registry{ID: atrium.NewID(atrium.PrefixRegistry), Name: req.Name, Host: host, Username: req.Username,
		Insecure: req.Insecure, Description: req.Description}
	if req.Password != "" {
		if r.Password, err = c.seal("password", req.Password, r.ID); err != nil {
			return nil, err
		}
	}
	if err := c.checkRegistryTaken(r.ID, r.Name, r.Host); err != nil {
		return nil, err
	}
	if err := c.s.Store.CreateRegistry(c.ctx(), r); err != nil {
		return nil, err
	}
	return registryView(r, true), nil
}

func listRegistries(c *call) (any, error) {
	all, err := c.s.Store.FindRegistries(c.ctx())
	if err != nil {
		return nil, err
	}
	withUser := c.s.Authz.ScopeOf(c.sub, "Registry:GetRegistry")&authz.All != 0
	out := make([]*RegistryView, len(all))
	for i, r := range all {
		out[i] = registryView(r, withUser)
	}
	return newList(out, len(out), page{}), nil
}

func getRegistry(c *call) (any, error) {
	r, err := c.s.Store.FindRegistryByID(c.ctx(), c.r.PathValue("registryId"))
	if err != nil {
		return nil, err
	}
	return registryView(r, true), nil
}

func updateRegistry(c *call) (any, error) {
	var req UpdateRegistryRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	cur, err := c.s.Store.FindRegistryByID(c.ctx(), c.r.PathValue("registryId"))
	if err != nil {
		return nil, err
	}
	upd := atrium.RegistryUpdate{Name: req.Name, Username: req.Username, Insecure: req.Insecure, Description: req.Description}
	name, host, username, hasPassword := cur.Name, cur.Host, cur.Username, len(cur.Password) > 0
	if req.Name != nil {
		if err := atrium.ValidateComputeName("name", *req.Name); err != nil {
			return nil, err
		}
		name = *req.Name
	}
	if req.Host != nil {
		if host, err = atrium.ParseRegistryHost("host", *req.Host); err != nil {
			return nil, err
		}
		upd.Host = &host
	}
	if req.Username != nil {
		if err := checkUsername(*req.Username); err != nil {
			return nil, err
		}
		username = *req.Username
	}
	if req.Description != nil {
		if err := atrium.ValidateDescription(*req.Description); err != nil {
			return nil, err
		}
	}
	if req.Password != nil {
		sealed := []byte{}
		if *req.Password != "" {
			if sealed, err = c.seal("password", *req.Password, cur.ID); err != nil {
				return nil, err
			}
		}
		upd.Password, hasPassword = &sealed, len(sealed) > 0
	}
	if err := checkCredentials(username, hasPassword); err != nil {
		return nil, err
	}
	if err := c.checkRegistryTaken(cur.ID, name, host); err != nil {
		return nil, err
	}
	r, err := c.s.Store.UpdateRegistry(c.ctx(), cur.ID, upd)
	if err != nil {
		return nil, err
	}
	return registryView(r, true), nil
}

func deleteRegistry(c *call) (any, error) {
	return nil, c.s.Store.DeleteRegistry(c.ctx(), c.r.PathValue("registryId"))
}
