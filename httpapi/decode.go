package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"atrium"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// decodeJSON reads exactly one JSON value into v, rejecting unknown fields,
// trailing data and bodies over MaxBodyBytes, with errors naming the field.
func decodeJSON(r *http.Request, v any) error {
	// The body is read as JSON whatever Content-Type says: curl -d sends
	// form encoding by default, and API calls carry a Bearer token, so
	// there is no cross-site form to guard against here.
	body := http.MaxBytesReader(nil, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err)
		}
		return atrium.FieldErrorf("body", "must hold a single JSON value; found data after it")
	}
	return nil
}

func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return atrium.FieldErrorf("body", "is empty; a JSON object is required")
	case errors.As(err, &mbe):
		return atrium.FieldErrorf("body", "must be at most %d bytes", MaxBodyBytes)
	case errors.As(err, &syn):
		return atrium.FieldErrorf("body", "is not valid JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return atrium.FieldErrorf("body", "is not valid JSON: unexpected end of input")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return atrium.FieldErrorf(field, "must be %s, got JSON %s", jsonKind(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json quotes the key with %q; show the key as sent.
		quoted := strings.TrimPrefix(err.Error(), "json: unknown field ")
		name, uerr := strconv.Unquote(quoted)
		if uerr != nil {
			name = strings.Trim(quoted, `"`)
		}
		if name == "" { // an empty key ({"": 1}) has no name to show
			return atrium.FieldErrorf("body", "has a field with an empty name, which is not a known field")
		}
		return atrium.FieldErrorf(name, "is not a known field")
	}
	return atrium.FieldErrorf("body", "cannot be decoded: %v", err)
}

func jsonKind(k string) string {
	switch k {
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "ptr":
		return "a value"
	}
	return "a number"
}

// page is the paging part of a list request.
type page struct {
	offset, limit int
}

const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// readPage parses pageSize and pageToken (an opaque offset).
func readPage(q url.Values) (page, error) {
	p := page{limit: defaultPageSize}
	if s := q.Get("pageSize"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			return p, atrium.FieldErrorf("pageSize", "must be an integer from 1 to %d", maxPageSize)
		}
		p.limit = n
	}
	if s := q.Get("pageToken"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "o:"))
		if err != nil || err2 != nil || n < 0 || !strings.HasPrefix(string(b), "o:") {
			return p, atrium.FieldErrorf("pageToken", "is not a token returned by this list")
		}
		p.offset = n
	}
	return p, nil
}

// List is the envelope of every list response.
type List[T any] struct {
	Items         []T    `json:"items"`
	TotalCount    int    `json:"totalCount"`
	NextPageToken string `json:"nextPageToken,omitempty"`
}

func newList[T any](items []T, total int, p page) List[T] {
	if items == nil {
		items = []T{}
	}
	l := List[T]{Items: items, TotalCount: total}
	if next := p.offset + len(items); p.limit > 0 && next < total {
		l.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("o:%d", next)))
	}
	return l
}

// boolQuery parses an optional boolean query parameter.
func boolQuery(q url.Values, name string) (*bool, error) {
	s := q.Get(name)
	if s == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, atrium.FieldErrorf(name, "must be true or false")
	}
	return &b, nil
}

// oneOf checks an optional enumerated query parameter.
func oneOf(q url.Values, name string, allowed ...string) (string, error) {
	s := q.Get(name)
	if s == "" {
		return "", nil
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return "", atrium.FieldErrorf(name, "must be one of %s", strings.Join(allowed, ", "))
}
