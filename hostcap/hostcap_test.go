package hostcap

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"atrium/resource"
)

func TestDetect(t *testing.T) {
	c := Detect(context.Background())
	if c.Vector.MilliCPU != int64(runtime.NumCPU())*1000 || c.Vector.Memory <= 0 {
		t.Fatalf("detected %v", c)
	}
}

func TestGPUTypeOf(t *testing.T) {
	for in, want := range map[string]string{
		"NVIDIA A100-SXM4-80GB": "A100", "Tesla T4": "T4", "NVIDIA GeForce RTX 4090": "RTX4090",
		"NVIDIA H100 80GB HBM3": "H10080GBHBM3", "Tesla V100-PCIE-32GB": "V100",
	} {
		if got := GPUTypeOf(in); got != want {
			t.Errorf("GPUTypeOf(%q) = %q, want %q", in, got, want)
		}
	}
	n, typ := ParseNvidiaSMI([]byte("Tesla T4\nTesla T4\n\n"))
	if n != 2 || typ != "T4" {
		t.Fatalf("ParseNvidiaSMI = %d %q", n, typ)
	}
}

func TestOverride(t *testing.T) {
	base := Capacity{Vector: resource.Vector{MilliCPU: 2000, Memory: 1 << 30}}
	c, err := Override(base, "cpu=8,memory=32Gi,gpu=4,gpuType=T4")
	if err != nil || c.Vector != (resource.Vector{MilliCPU: 8000, Memory: 32 << 30, GPU: 4}) || c.GPUType != "T4" {
		t.Fatalf("%v %v", c, err)
	}
	if c, _ := Override(base, "gpu=0"); c != base {
		t.Fatalf("partial override changed other keys: %v", c)
	}
	for in, want := range map[string]string{
		"cpu=lots": "cpu", "gpu=2": "gpuType is required", "disk=1": "unknown key", "cpu": "key=value", "gpu=-1,gpuType=T4": "gpu",
	} {
		if _, err := Override(base, in); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--local-capacity") {
			t.Errorf("Override(%q) = %v, want error mentioning %q", in, err, want)
		}
	}
}
