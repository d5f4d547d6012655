package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"atrium"
)

// Unavailable reports whether err means the database cannot be reached
// right now (refused or broken connections, a server shutting down or
// starting up), as opposed to a fault of the request. The API answers
// those 503 with Retry-After; nothing was committed.
func (db *DB) Unavailable(err error) bool {
	if err == nil || atrium.ErrorCode(err) != atrium.EINTERNAL {
		return false
	}
	var ce *pgconn.ConnectError
	var pe *pgconn.PgError
	var ne net.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled):
		return true
	case errors.As(err, &ce), errors.As(err, &ne):
		return true
	case errors.As(err, &pe):
		// Class 08: connection exception; 57P01–03: shutdown, crash, starting up.
		return len(pe.Code) == 5 && (pe.Code[:2] == "08" || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03")
	}
	return pgconn.SafeToRetry(err)
}
