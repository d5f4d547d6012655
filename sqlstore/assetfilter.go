package sqlstore

import (
	"strings"

	"atrium"
	"atrium/filter"
)

// assetSpecFields are the filterable fields each kind keeps in its spec
// JSON, by public name (also the JSON key). They are compared as text.
var assetSpecFields = map[string][]string{
	atrium.AssetDataset:    {"dataType", "property", "sourceType", "dataSourceType", "uri"},
	atrium.AssetModel:      {"domain", "task"},
	atrium.AssetImage:      {"imageUri"},
	atrium.AssetCodeSource: {"repo", "branch", "commit", "mountPath"},
	atrium.AssetAlgorithm:  {},
}

// assetFields returns the filterable fields of kind on the dialect: the
// common columns and the kind's spec keys. Every SQL expression here is a
// fixed string of this package; filter text only ever reaches the query as
// bound arguments.
func assetFields(d *dialect, kind string) map[string]filter.Field {
	text := func(expr string) filter.Field {
		// Byte order on both engines, so < and > agree.
		if d.collate != "" {
			expr = "(" + expr + d.collate + ")"
		}
		return filter.Field{Column: expr, Type: filter.String}
	}
	fs := map[string]filter.Field{
		"id":            text("id"),
		"name":          text("name"),
		"description":   text("description"),
		"owner":         text("owner"),
		"ownerName":     text("owner_name"),
		"accessibility": text("accessibility"),
		"latestVersion": text("latest_version"),
		"createdAt":     {Column: "created_at", Type: filter.Time},
		"updatedAt":     {Column: "updated_at", Type: filter.Time},
	}
	for _, key := range assetSpecFields[kind] {
		fs[key] = text(d.jsonText("spec", key))
	}
	if kind == atrium.AssetModel {
		// A model answers for its latest version: "frameworkType =
		// \"PyTorch\" AND approvalStatus = \"Approved\"" finds models whose
		// newest version is an approved PyTorch one.
		latest := func(expr string) string {
			return "(SELECT " + expr + " FROM asset_versions v WHERE v.asset_id = assets.id AND v.name = assets.latest_version)"
		}
		fs["approvalStatus"] = text(latest("v.approval_status"))
		for _, key := range []string{"frameworkType", "formatType"} {
			fs[key] = text(latest(d.jsonText("v.spec", key)))
		}
	}
	return fs
}

// compileAssetFilter compiles a filter expression over kind's fields and
// labels.<key> to a bound SQL condition for the dialect. A bad expression
// is EINVALID naming "filter" (a *filter.SyntaxError with the position).
func compileAssetFilter(d *dialect, kind, text string) (string, []any, error) {
	e, err := filter.Parse(text)
	if err != nil {
		return "", nil, err
	}
	labels := func(key string) (string, []any) {
		expr, arg, ok := d.jsonTextArg("labels", key)
		if !ok {
			return "NULL", nil // a key no label can have
		}
		if d.collate != "" {
			expr = "(" + expr + d.collate + ")"
		}
		return expr, []any{arg}
	}
	return filter.Compile(e, assetFields(d, kind), labels)
}

// jsonText returns an SQL expression for the text value of key in the JSON
// text column col (NULL when absent). key must be a fixed identifier of this
// package, never user input: it is written into the SQL.
func (d *dialect) jsonText(col, key string) string {
	if strings.ContainsAny(key, `'"\?$.[]`) {
		panic("sqlstore: unsafe JSON key " + key)
	}
	if d.numbered {
		return "(" + col + "::jsonb ->> '" + key + "')"
	}
	return "json_extract(" + col + ", '$." + key + "')"
}

// jsonTextArg returns an SQL expression with one placeholder, and its
// argument, for the text value of an arbitrary key in the JSON text column
// col; ok is false for a key it cannot express (one holding a quote or
// backslash, which no label key can).
func (d *dialect) jsonTextArg(col, key string) (expr string, arg any, ok bool) {
	if d.numbered {
		return "(" + col + "::jsonb ->> CAST(? AS TEXT))", key, true
	}
	if strings.ContainsAny(key, `"\`) {
		return "", nil, false
	}
	return "json_extract(" + col + ", ?)", `$."` + key + `"`, true
}
