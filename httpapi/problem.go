package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"atrium"
)

// Problem is an RFC 9457 problem+json body with Atrium's stable code.
type Problem struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Status     int    `json:"status"`
	Detail     string `json:"detail"`
	Code       string `json:"code"`
	Field      string `json:"field,omitempty"`
	Permission string `json:"permission,omitempty"`
	RequestID  string `json:"requestId,omitempty"`
}

// codeStatus is the one place error codes map to HTTP statuses.
var codeStatus = map[string]int{
	atrium.EINVALID:         http.StatusBadRequest,
	atrium.ENOTFOUND:        http.StatusNotFound,
	atrium.EFORBIDDEN:       http.StatusForbidden,
	atrium.EUNAUTHENTICATED: http.StatusUnauthorized,
	atrium.ECONFLICT:        http.StatusConflict,
	atrium.EUNAVAILABLE:     http.StatusServiceUnavailable,
	atrium.EINTERNAL:        http.StatusInternalServerError,
}

var codeTitle = map[string]string{
	atrium.EINVALID:         "Invalid parameter",
	atrium.ENOTFOUND:        "Not found",
	atrium.EFORBIDDEN:       "Forbidden",
	atrium.EUNAUTHENTICATED: "Unauthenticated",
	atrium.ECONFLICT:        "Conflict",
	atrium.EUNAVAILABLE:     "Service unavailable",
	atrium.EINTERNAL:        "Internal error",
}

// ErrorStatus returns the HTTP status for err.
func ErrorStatus(err error) int {
	return codeStatus[atrium.ErrorCode(err)]
}

func problemFor(err error, requestID string) Problem {
	code := atrium.ErrorCode(err)
	p := Problem{
		Type:      "urn:atrium:problem:" + code,
		Title:     codeTitle[code],
		Status:    codeStatus[code],
		Detail:    atrium.ErrorMessage(err),
		Code:      code,
		RequestID: requestID,
	}
	if e := atrium.AsError(err); e != nil {
		p.Field, p.Permission = e.Field, e.Permission
	}
	return p
}

func writeProblem(w http.ResponseWriter, err error, requestID string) {
	p := problemFor(err, requestID)
	switch p.Status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="atrium"`)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(2))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		enc := json.NewEncoder(w)
		_ = enc.Encode(v)
	}
}
