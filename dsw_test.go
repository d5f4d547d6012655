package atrium_test

import (
	"testing"
	"time"

	"atrium"
	"atrium/resource"
)

func TestDSWSpec(t *testing.T) {
	d, err := atrium.ParseDSWSpec([]byte("image: jupyter\nresources: {cpu: 2, memory: 4Gi}\nidleTimeout: 30m\nenvs: {A: b}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := d.JobSpec()
	if err := s.NormalizeFor(atrium.KindDSW); err != nil {
		t.Fatal(err)
	}
	if s.JobType != atrium.JobTypeDSW || len(s.JobSpecs) != 1 || s.JobSpecs[0].Type != atrium.DSWRole || s.JobSpecs[0].PodCount != 1 ||
		time.Duration(s.IdleTimeout) != 30*time.Minute || s.Accessibility != atrium.AccessPrivate || s.DisplayName != "dsw" {
		t.Fatalf("normalized %+v", s)
	}
	if _, err := atrium.ParseDSWSpec([]byte("image: x\npodCount: 2\n")); atrium.AsError(err) == nil || atrium.AsError(err).Field != "podCount" {
		t.Errorf("unknown field: %v", err)
	}
	for _, c := range []struct {
		kind string
		spec atrium.JobSpec
		want string
	}{
		{atrium.KindDLC, *s, "jobType"},
		{atrium.KindDSW, atrium.JobSpec{JobType: "PyTorchJob"}, "jobType"},
		{atrium.KindDSW, func() atrium.JobSpec {
			c := *(&atrium.DSWSpec{Image: "x", Resources: resource.Spec{CPU: "1", Memory: "1Gi"}, IdleTimeout: -1}).JobSpec()
			return c
		}(), "idleTimeout"},
		{atrium.KindDSW, *(&atrium.DSWSpec{Resources: resource.Spec{CPU: "1", Memory: "1Gi"}}).JobSpec(), "jobSpecs[0].image"},
	} {
		err := c.spec.NormalizeFor(c.kind)
		if e := atrium.AsError(err); e == nil || e.Field != c.want {
			t.Errorf("%s %s: %v, want an error naming %s", c.kind, c.spec.JobType, err, c.want)
		}
	}
	e := atrium.AsError(atrium.NormalizeDSWError(atrium.FieldErrorf("jobSpecs[0].resources.memory", "must not be negative")))
	if e.Field != "resources.memory" || e.Message != "resources.memory: must not be negative" {
		t.Errorf("renamed: %+v", e)
	}
}
