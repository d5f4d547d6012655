package sqlstore

import "atrium"

// compileAssetFilter compiles a filter expression over kind's fields to a
// bound SQL condition for the dialect.
func compileAssetFilter(d *dialect, kind, text string) (string, []any, error) {
	return "", nil, atrium.FieldErrorf("filter", "not supported yet")
}
