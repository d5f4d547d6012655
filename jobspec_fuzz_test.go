package atrium_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"atrium"
)

// FuzzJobSpec checks ParseJobSpec and Normalize together: neither panics;
// every error is InvalidParameter naming a field; an accepted spec is
// normalized for good (Normalize again changes nothing) and, written back
// as JSON or YAML, parses and normalizes to the same spec.
//
//	go test -run '^$' -fuzz=FuzzJobSpec -fuzztime=60s .
func FuzzJobSpec(f *testing.F) {
	for _, s := range []string{
		goodSpec,
		`{"jobType":"CustomJob","command":"true","jobSpecs":[{"type":"Worker","podCount":2,"image":"busybox","resources":{"cpu":"500m","memory":"64Mi"}}]}`,
		"jobType: MPIJob\ncommand: mpirun x\njobSpecs: [{type: Launcher, podCount: 1, image: a, resources: {cpu: 1, memory: 1Gi}}, {type: Worker, podCount: 4, image: a, resources: {cpu: 2, memory: 2Gi, gpu: 1, gpuType: A100}}]\n",
		"jobType: TFJob\ncommand: python t.py\nmaxRunningTimeMinutes: 90\nrestartPolicy: OnFailure\nmaxRestarts: 3\njobSpecs: [{type: Chief, podCount: 1, image: tf, resources: {cpu: 1, memory: 1Gi}}]\n",
		"jobType: RayJob\ncommand: ray\naccessibility: PUBLIC\npriority: 9\nmaxRunningTime: 2h\nenvs: {A_B: x}\ndataSources: [{uri: 'oss://b/p', mountPath: /mnt/d}]\ncodeSource: {codeSourceId: cs-1, mountPath: /root/code}\njobSpecs: [{type: Head, podCount: 1, image: r, resources: {cpu: 0.5, memory: 1.5Gi}}]\n",
		"jobType: PyTorchJob\nbogus: 1\n",
		"jobType: [1]\n",
		"{}",
		"a: b\n---\nc: d\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := atrium.ParseJobSpec(b)
		if err != nil {
			checkFieldError(t, b, "ParseJobSpec", err)
			return
		}
		if err := s.Normalize(); err != nil {
			checkFieldError(t, b, "Normalize", err)
			return
		}
		again := *s
		if err := again.Normalize(); err != nil || !reflect.DeepEqual(&again, s) {
			t.Fatalf("%q: Normalize is not idempotent: %v\n%+v\n%+v", b, err, s, &again)
		}
		js, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("%q: marshal the accepted spec: %v", b, err)
		}
		ys, err := yaml.JSONToYAML(js)
		if err != nil {
			t.Fatalf("%q: JSON to YAML: %v", b, err)
		}
		for _, text := range [][]byte{js, ys} {
			s2, err := atrium.ParseJobSpec(text)
			if err != nil {
				t.Fatalf("%q: accepted, but its rendering %q does not parse: %v", b, text, err)
			}
			if err := s2.Normalize(); err != nil {
				t.Fatalf("%q: accepted, but its rendering %q does not normalize: %v", b, text, err)
			}
			if !reflect.DeepEqual(s2, s) {
				t.Fatalf("%q: rendering %q reads back differently:\n%+v\n%+v", b, text, s, s2)
			}
		}
	})
}

// checkFieldError requires an InvalidParameter error whose message starts
// with the field it names.
func checkFieldError(t *testing.T, in []byte, what string, err error) {
	t.Helper()
	e := atrium.AsError(err) // resource.FieldError is an InvalidFielder
	if e == nil {
		t.Fatalf("%s(%q): error %v (%T) is neither an *atrium.Error nor names a field", what, in, err, err)
	}
	if e.Code != atrium.EINVALID || e.Field == "" || !strings.HasPrefix(e.Message, e.Field+": ") {
		t.Fatalf("%s(%q): error %+v does not name a field", what, in, e)
	}
}
