package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Pragma reads the first column of a SQLite PRAGMA's first row ("" if it
// returns none) on the writer connection and on the read pool.
func Pragma(ctx context.Context, db *DB, name string) (writer, reader string, err error) {
	q := "PRAGMA " + name
	if err := db.write.QueryRowContext(ctx, q).Scan(&writer); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("writer: %w", err)
	}
	if err := db.read.QueryRowContext(ctx, q).Scan(&reader); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("reader: %w", err)
	}
	return writer, reader, nil
}
