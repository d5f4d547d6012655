// Package atrium holds Atrium's domain types, the service contracts that the
// storage, HTTP and CLI layers implement or use, and the error codes that
// every layer speaks.
package atrium

import (
	"errors"
	"fmt"
)

// Error codes are stable strings shown to API users; the HTTP layer maps each
// to exactly one status code.
const (
	EINVALID         = "InvalidParameter"
	ENOTFOUND        = "NotFound"
	EFORBIDDEN       = "Forbidden"
	EUNAUTHENTICATED = "Unauthenticated"
	ECONFLICT        = "Conflict"
	EUNAVAILABLE     = "Unavailable"
	EINTERNAL        = "Internal"
	// EFENCED: a write carried a lease generation that is no longer current
	// (see WithFence); it never reaches API callers.
	EFENCED = "Fenced"
)

// Error is an application error with a stable code. Field names the offending
// input for EINVALID; Permission names the missing permission code for
// EFORBIDDEN.
type Error struct {
	Code       string
	Message    string
	Field      string
	Permission string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("atrium error: code=%s field=%s message=%s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("atrium error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an EINVALID error naming the field and the rule it broke.
func FieldErrorf(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

// InvalidFielder is an error about one input field, from packages below
// this one (resource) that cannot import it; such errors are EINVALID.
type InvalidFielder interface {
	error
	InvalidField() string
}

// ErrorCode returns the code of an application error, EINTERNAL for any other
// non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	} else if e := AsError(err); e != nil {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of an application error; any other error
// becomes "internal error" so internals never reach users.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	} else if e := AsError(err); e != nil {
		return e.Message
	}
	return "internal error"
}

// AsError returns the *Error in err's chain (an InvalidFielder counts as
// EINVALID), or nil.
func AsError(err error) *Error {
	var e *Error
	var f InvalidFielder
	if errors.As(err, &e) {
		return e
	} else if errors.As(err, &f) {
		return &Error{Code: EINVALID, Field: f.InvalidField(), Message: f.Error()}
	}
	return nil
}
