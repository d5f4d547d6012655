package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"atrium"
)

// assetSetup returns a matrix setup that gives each caller fresh assets of
// kind k: their own PRIVATE one and another member's PRIVATE and PUBLIC
// ones, each labelled team=x and, for versioned kinds, with one version
// made by its owner.
func assetSetup(k *assetKind) func(t *testing.T, f *fixture, w *world, s *subject) {
	return func(t *testing.T, f *fixture, w *world, s *subject) {
		t.Helper()
		ctx := context.Background()
		other, err := f.store.FindUserByID(ctx, w.victim.UserID)
		if err != nil {
			t.Fatal(err)
		}
		spec := map[string]json.RawMessage{
			atrium.AssetDataset:    json.RawMessage(`{"dataType":"COMMON","property":"DIRECTORY","sourceType":"USER","uri":"oss://b/x","dataSourceType":"OSS"}`),
			atrium.AssetModel:      json.RawMessage(`{}`),
			atrium.AssetImage:      json.RawMessage(`{"imageUri":"busybox:1"}`),
			atrium.AssetCodeSource: json.RawMessage(`{"repo":"https://x/y.git","mountPath":"/code"}`),
			atrium.AssetAlgorithm:  json.RawMessage(`{}`),
		}[k.kind]
		w.assets = map[string]*atrium.Asset{}
		mk := func(key string, owner *atrium.User, access string) {
			a := &atrium.Asset{WorkspaceID: w.ws.ID, Kind: k.kind, Name: fmt.Sprintf("%s-%s-%s", k.segment, key, s.name),
				Owner: owner.ID, OwnerName: owner.Name, Accessibility: access, Labels: map[string]string{"team": "x"}, Spec: spec}
			must(t, f.store.CreateAsset(ctx, a))
			if k.versions != nil {
				v := &atrium.AssetVersion{AssetID: a.ID, WorkspaceID: w.ws.ID, Kind: k.kind, Name: "0.1.0", Creator: owner.ID, CreatorName: owner.Name,
					Labels: map[string]string{}, Spec: json.RawMessage(`{}`)}
				switch k.kind {
				case atrium.AssetDataset:
					v.Name, v.URI, v.Spec = "v1", "oss://b/x/v1", json.RawMessage(`{"dataCount":1,"dataSize":1,"dataSourceType":"OSS"}`)
				case atrium.AssetModel:
					v.URI, v.ApprovalStatus, v.SourceType = "oss://b/m", atrium.ApprovalPending, "Custom"
				case atrium.AssetAlgorithm:
					v.Spec = json.RawMessage(`{"image":"busybox:1","commandTemplate":"echo","params":[],"inputs":[],"outputs":[]}`)
				}
				must(t, f.store.CreateAssetVersion(ctx, v))
			}
			w.assets[key] = a
		}
		mk("own", s.user, atrium.AccessPrivate)
		mk("otherPrivate", other, atrium.AccessPrivate)
		mk("otherPublic", other, atrium.AccessPublic)
	}
}

// Assets: Developer, Operator and LabelManager create; everyone
// lists own + PUBLIC; PRIVATE reads are creator + Admin; update, delete and
// publish are creator + Admin; Guest (and MaxComputeDeveloper) read PUBLIC
// only; Admin alone changes the owner. ResourceAdmin is no member: it sees
// no team's assets.
func assetCreator(s *subject) bool {
	return isWSAdmin(s) || s.role == atrium.RoleAlgoDeveloper || s.role == atrium.RoleAlgoOperator || s.role == atrium.RoleLabelManager
}

func assetVisible(s *subject, key string) bool {
	return isMember(s) && (isWSAdmin(s) || key == "otherPublic" || (key == "own" && assetCreator(s)))
}

type assetAction int

const (
	assetRead assetAction = iota
	assetWrite
	assetOwner
	assetApprove
)

func assetWant(key string, act assetAction, ok int) func(*subject) int {
	return func(s *subject) int {
		if !assetVisible(s, key) {
			return http.StatusNotFound
		}
		switch act {
		case assetRead:
			return ok
		case assetWrite:
			if isWSAdmin(s) || key == "own" {
				return ok
			}
		case assetOwner:
			if isWSAdmin(s) {
				return ok
			}
		case assetApprove:
			// Admin and Operator approve, never a version they created
			// (requireSeparateApprover is on by default).
			if (isWSAdmin(s) || s.role == atrium.RoleAlgoOperator) && key != "own" {
				return ok
			}
		}
		return http.StatusForbidden
	}
}

func assetMatrixCases() []matrixCase {
	const ws = "/api/v1/workspaces/{workspaceId}"
	var cases []matrixCase
	for _, k := range assetKinds {
		k := k
		base := ws + "/" + k.segment
		one := base + "/{" + k.param + "}"
		setup := assetSetup(k)
		at := func(key, suffix string) func(w *world, s *subject) string {
			return func(w *world, s *subject) string {
				return "/api/v1/workspaces/" + w.ws.ID + "/" + k.segment + "/" + w.assets[key].ID + suffix
			}
		}
		body := func(v any) func(*world, *subject) any { return func(*world, *subject) any { return v } }
		create := func(w *world, s *subject) any {
			b := map[string]any{"name": "new-" + s.name, "labels": map[string]string{"team": "x"}}
			switch k.kind {
			case atrium.AssetDataset:
				b["uri"] = "oss://b/new"
			case atrium.AssetImage:
				b["imageUri"] = "busybox:1"
			case atrium.AssetCodeSource:
				b["repo"] = "https://x/new.git"
			}
			return b
		}
		cases = append(cases,
			matrixCase{method: "POST", path: base, path_: func(w *world, s *subject) string { return "/api/v1/workspaces/" + w.ws.ID + "/" + k.segment },
				body: create, setup: func(*testing.T, *fixture, *world, *subject) {},
				want: func(s *subject) int {
					switch {
					case assetCreator(s):
						return http.StatusCreated
					case isMember(s), isRA(s):
						return http.StatusForbidden
					}
					return http.StatusNotFound
				}},
			matrixCase{method: "GET", path: base, setup: setup,
				path_: func(w *world, s *subject) string {
					return "/api/v1/workspaces/" + w.ws.ID + "/" + k.segment + `?filter=labels.team%20%3D%20%22x%22&sortBy=name&pageSize=2`
				},
				want: func(s *subject) int {
					switch {
					case isMember(s):
						return http.StatusOK
					case isRA(s):
						return http.StatusForbidden
					}
					return http.StatusNotFound
				}},
		)
		for _, key := range []string{"own", "otherPrivate", "otherPublic"} {
			publishOK := http.StatusOK
			if key == "otherPublic" {
				publishOK = http.StatusConflict
			}
			cases = append(cases,
				matrixCase{method: "GET", path: one, name: key, setup: setup, path_: at(key, ""), want: assetWant(key, assetRead, 200)},
				matrixCase{method: "PUT", path: one, name: key, setup: setup, path_: at(key, ""), body: body(map[string]any{"description": "changed"}),
					want: assetWant(key, assetWrite, 200)},
				matrixCase{method: "DELETE", path: one, name: key, setup: setup, path_: at(key, ""), want: assetWant(key, assetWrite, 204)},
				matrixCase{method: "POST", path: one + "/publish", name: key, setup: setup, path_: at(key, "/publish"), want: assetWant(key, assetWrite, publishOK)},
				matrixCase{method: "PUT", path: one + "/owner", name: key, setup: setup, path_: at(key, "/owner"),
					body: func(w *world, s *subject) any { return map[string]any{"userId": w.victim.UserID} }, want: assetWant(key, assetOwner, 200)},
				matrixCase{method: "POST", path: one + "/labels", name: key, setup: setup, path_: at(key, "/labels"),
					body: body(map[string]any{"labels": map[string]string{"stage": "gold"}}), want: assetWant(key, assetWrite, 200)},
				matrixCase{method: "DELETE", path: one + "/labels/{key}", name: key, setup: setup, path_: at(key, "/labels/team"), want: assetWant(key, assetWrite, 200)},
			)
			if k.versions == nil {
				continue
			}
			first := "0.1.0"
			var vbody any = map[string]any{"uri": "oss://b/m2"}
			switch k.kind {
			case atrium.AssetDataset:
				first, vbody = "v1", map[string]any{"uri": "oss://b/x/v2", "dataCount": 2}
			case atrium.AssetAlgorithm:
				vbody = map[string]any{"image": "busybox:1", "commandTemplate": "echo {{.n}}", "params": []map[string]any{{"name": "n", "type": "int"}}}
			}
			ver := one + "/versions"
			cases = append(cases,
				matrixCase{method: "POST", path: ver, name: key, setup: setup, path_: at(key, "/versions"), body: body(vbody), want: assetWant(key, assetWrite, 201)},
				matrixCase{method: "GET", path: ver, name: key, setup: setup, path_: at(key, "/versions"), want: assetWant(key, assetRead, 200)},
				matrixCase{method: "GET", path: ver + "/{versionName}", name: key, setup: setup, path_: at(key, "/versions/"+first), want: assetWant(key, assetRead, 200)},
				matrixCase{method: "DELETE", path: ver + "/{versionName}", name: key, setup: setup, path_: at(key, "/versions/"+first), want: assetWant(key, assetWrite, 204)},
			)
			if k.kind == atrium.AssetModel {
				cases = append(cases,
					matrixCase{method: "PUT", path: ver + "/{versionName}", name: key, setup: setup, path_: at(key, "/versions/0.1.0"),
						body: body(map[string]any{"approvalStatus": "Approved"}), want: assetWant(key, assetApprove, 200)},
					matrixCase{method: "GET", path: ver + "/{versionName}/lineage", name: key, setup: setup, path_: at(key, "/versions/0.1.0/lineage"),
						want: assetWant(key, assetRead, 200)},
				)
			}
		}
	}
	return cases
}
