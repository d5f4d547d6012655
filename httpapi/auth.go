package httpapi

import (
	"strings"
	"time"

	"atrium"
	"atrium/secret"
)

// SessionCookie is the web console's session: "tokenId.token" of an API
// token minted at sign-in.
const SessionCookie = "atrium_session"

// touchEvery limits last-used updates to one write per token per minute.
const touchEvery = time.Minute

// authenticate resolves the caller from a Bearer token, or from HTTP Basic
// where the route allows it (minting a token with name and password).
func (s *Server) authenticate(c *call) error {
	// Never a cookie: a browser's ambient credentials open no API route,
	// so the API needs no CSRF check.
	h := c.r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	switch {
	case h == "":
		return atrium.Errorf(atrium.EUNAUTHENTICATED, "missing Authorization header: send 'Authorization: Bearer <token>' (mint one with POST /api/v1/auth/tokens or 'atrium login')")
	case strings.EqualFold(scheme, "Bearer"):
		return s.authenticateToken(c, strings.TrimSpace(cred))
	case strings.EqualFold(scheme, "Basic") && c.rt.auth == authTokenOrBasic:
		name, pw, ok := c.r.BasicAuth()
		if !ok {
			return atrium.Errorf(atrium.EUNAUTHENTICATED, "malformed Basic credentials")
		}
		return s.authenticatePassword(c, name, pw)
	case strings.EqualFold(scheme, "Basic"):
		return atrium.Errorf(atrium.EUNAUTHENTICATED, "this endpoint takes a Bearer token; name and password are accepted only by POST /api/v1/auth/tokens")
	}
	return atrium.Errorf(atrium.EUNAUTHENTICATED, "unsupported Authorization scheme; use Bearer")
}

func (s *Server) authenticateToken(c *call, tok string) error {
	invalid := atrium.Errorf(atrium.EUNAUTHENTICATED, "invalid, expired or revoked token")
	if tok == "" {
		return invalid
	}
	t, u, err := s.Store.FindTokenByHash(c.ctx(), secret.HashToken(tok))
	if atrium.ErrorCode(err) == atrium.ENOTFOUND {
		return invalid
	} else if err != nil {
		return err
	}
	now := s.Now()
	if !t.Active(now) {
		return invalid
	}
	if u.Disabled {
		return atrium.Errorf(atrium.EUNAUTHENTICATED, "user %q is disabled", u.Name)
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= touchEvery {
		if err := s.Store.TouchToken(c.ctx(), t.ID, now); err != nil {
			s.Logger.Warn("cannot record token use", "tokenId", t.ID, "err", err)
		}
	}
	c.user = u
	return nil
}

func (s *Server) authenticatePassword(c *call, name, pw string) error {
	invalid := atrium.Errorf(atrium.EUNAUTHENTICATED, "invalid user name or password")
	if len(name) <= 64 {
		c.loginName = name
	}
	u, err := s.Store.FindUserByName(c.ctx(), name)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND {
		// Spend the same time as a real check so timing does not reveal names.
		_, _ = secret.CheckPassword(dummyHash, pw)
		return invalid
	} else if err != nil {
		return err
	}
	if u.PasswordHash == "" {
		return invalid
	}
	ok, err := secret.CheckPassword(u.PasswordHash, pw)
	if err != nil {
		return err
	}
	if !ok {
		return invalid
	}
	if u.Disabled {
		return atrium.Errorf(atrium.EUNAUTHENTICATED, "user %q is disabled", u.Name)
	}
	c.user = u
	return nil
}

var dummyHash, _ = secret.HashPassword("atrium-timing-equaliser")
