package httpapi

import (
	"atrium"
	"atrium/resource"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// OpenAPI builds the OpenAPI 3.1 document from the route table and the Go
// types of each route's body, so the document cannot drift from the handlers.
func (s *Server) OpenAPI() map[string]any {
	schemas := map[string]any{}
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		op := map[string]any{
			"operationId":  strings.ReplaceAll(rt.code, ":", "_") + "_" + strings.ToLower(rt.method),
			"summary":      rt.summary,
			"tags":         []string{strings.SplitN(rt.code, ":", 2)[0]},
			"x-permission": rt.code,
			"responses":    map[string]any{},
		}
		var ps []map[string]any
		for _, name := range pathParams(rt.path) {
			ps = append(ps, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.query {
			ps = append(ps, map[string]any{"name": q.name, "in": "query", "description": q.desc, "schema": map[string]any{"type": "string"}})
		}
		if ps != nil {
			op["parameters"] = ps
		}
		if rt.in != nil {
			sch := map[string]any{"schema": schemaOf(reflect.TypeOf(rt.in), schemas)}
			content := map[string]any{"application/json": sch}
			if rt.body != "" {
				content[rt.body] = sch // the same document, written in YAML
			}
			op["requestBody"] = map[string]any{"required": true, "content": content}
		}
		resp := op["responses"].(map[string]any)
		ok := map[string]any{"description": http.StatusText(rt.status)}
		if rt.out != nil && rt.status != http.StatusNoContent {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(rt.out), schemas)}}
		}
		for st, out := range rt.alt {
			resp[itoa(st)] = map[string]any{"description": http.StatusText(st),
				"content": map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(out), schemas)}}}
		}
		if rt.stream {
			ok["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
		}
		resp[itoa(rt.status)] = ok
		resp["default"] = map[string]any{"$ref": "#/components/responses/Problem"}
		sec := []map[string][]string{{"bearer": {}}}
		if rt.auth == authTokenOrBasic {
			sec = append(sec, map[string][]string{"basic": {}})
		}
		op["security"] = sec
		if paths[rt.path] == nil {
			paths[rt.path] = map[string]any{}
		}
		paths[rt.path][strings.ToLower(rt.method)] = op
	}
	schemas["Problem"] = schemaOf(reflect.TypeOf(Problem{}), schemas)
	schemaOf(reflect.TypeOf(resource.Spec{}), schemas) // referenced by resource lists
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Atrium API", "version": "v1",
			"description": "Users, tokens, workspaces, members, roles, resource groups, quotas and scheduling policy of an Atrium installation. Every operation names its permission code in x-permission."},
		"paths": paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer"},
				"basic":  map[string]any{"type": "http", "scheme": "basic"},
			},
			"responses": map[string]any{"Problem": map[string]any{
				"description": "An error, as application/problem+json with a stable code",
				"content":     map[string]any{"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}},
			}},
		},
	}
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.OpenAPI())
}

var pathParamRE = regexp.MustCompile(`\{([A-Za-z]+)(?:\.\.\.)?\}`)

func pathParams(path string) []string {
	var out []string
	for _, m := range pathParamRE.FindAllStringSubmatch(path, -1) {
		out = append(out, m[1])
	}
	return out
}

var timeType = reflect.TypeOf(time.Time{})

// customJSON describes types whose MarshalJSON writes something other than
// their Go shape.
var customJSON = map[reflect.Type]func(schemas map[string]any) map[string]any{
	// Free-form JSON objects (a model version's metrics, inferenceSpec…).
	reflect.TypeOf(json.RawMessage{}): func(map[string]any) map[string]any {
		return map[string]any{"type": "object", "additionalProperties": map[string]any{}}
	},
	reflect.TypeOf(atrium.Duration(0)): func(map[string]any) map[string]any {
		return map[string]any{"type": "string", "description": "a duration such as 90s or 2h"}
	},
	reflect.TypeOf(resource.Vector{}): func(schemas map[string]any) map[string]any {
		return map[string]any{"type": "object", "properties": map[string]any{
			"cpu": map[string]any{"type": "string"}, "memory": map[string]any{"type": "string"}, "gpu": map[string]any{"type": "integer"}}}
	},
	reflect.TypeOf(resource.List{}): func(schemas map[string]any) map[string]any {
		return map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/Spec"}}
	},
}

// schemaOf returns a JSON Schema for t, registering named structs in schemas.
func schemaOf(t reflect.Type, schemas map[string]any) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if f, ok := customJSON[t]; ok {
		return f(schemas)
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.String:
		return map[string]any{"type": "string"}
	case t.Kind() == reflect.Bool:
		return map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return map[string]any{"type": "integer"}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return map[string]any{"type": "number"}
	case t.Kind() == reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), schemas)}
	case t.Kind() == reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), schemas)}
	case t.Kind() == reflect.Struct:
		name := schemaName(t)
		if _, ok := schemas[name]; !ok {
			schemas[name] = map[string]any{} // placeholder against recursion
			props, required := map[string]any{}, []string{}
			structFields(t, schemas, props, &required)
			sch := map[string]any{"type": "object", "properties": props}
			if len(required) > 0 {
				sch["required"] = required
			}
			schemas[name] = sch
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func structFields(t reflect.Type, schemas, props map[string]any, required *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			structFields(f.Type, schemas, props, required)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = schemaOf(f.Type, schemas)
		if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
			*required = append(*required, name)
		}
	}
}

// schemaName gives generic instantiations a readable name (List[*atrium.Workspace] → WorkspaceList).
func schemaName(t reflect.Type) string {
	name := t.Name()
	if i := strings.Index(name, "["); i >= 0 {
		inner := name[i+1 : len(name)-1]
		inner = inner[strings.LastIndexAny(inner, ".*")+1:]
		return strings.ToUpper(inner[:1]) + inner[1:] + strings.ToUpper(name[:1]) + name[1:i]
	}
	return strings.ToUpper(name[:1]) + name[1:]
}
