package console

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"

	"atrium/httpapi"
)

// A sign-in mints an API token for the console session (12 h); the cookie
// holds "tokenId.token", HttpOnly and SameSite=Lax. Signing out revokes
// the token, so a copied cookie stops working too.

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if s, _ := c.loadSession(r); s != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.showLogin(w, r, "", http.StatusOK)
}

// showLogin renders the form with a fresh login CSRF nonce, double-submitted
// as a cookie and a hidden field (there is no session to tie it to yet).
func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, msg string, status int) {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	nonce := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: nonce, Path: "/login", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 3600})
	v := c.newView(r, nil, "Sign in")
	v.Error = msg
	v.Data = map[string]string{"Nonce": nonce, "Next": safeNext(r.FormValue("next")), "Name": r.PostFormValue("name")}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	c.exec(w, "login", "layout", v)
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(loginCookie)
	if err != nil || ck.Value == "" || r.PostFormValue(csrfField) != ck.Value {
		c.showLogin(w, r, "The sign-in form expired; please try again.", http.StatusForbidden)
		return
	}
	name, pw := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("password")
	if name == "" || pw == "" {
		c.showLogin(w, r, "Enter your user name and password.", http.StatusOK)
		return
	}
	tok, err := c.client("").CreateTokenWithPassword(r.Context(), name, pw,
		httpapi.CreateTokenRequest{Name: "console session", ExpiresIn: sessionTTL.String()})
	if err != nil {
		if pe, ok := err.(*httpapi.ProblemError); ok && pe.Status < 500 {
			// 200: a mistyped password is not a page error.
			c.showLogin(w, r, pe.Detail, http.StatusOK)
			return
		}
		c.fail(w, r, nil, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok.ID + "." + tok.Token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil, MaxAge: int(sessionTTL.Seconds())})
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: "/login", MaxAge: -1})
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) error {
	if _, err := s.client.RevokeToken(r.Context(), s.tokenID); err != nil {
		c.logger.Warn("console: cannot revoke the session token", "tokenId", s.tokenID, "err", err)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// safeNext keeps redirects after sign-in on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}
