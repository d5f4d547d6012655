// Package hostcap detects what this machine offers to the local executor:
// CPUs, memory and NVIDIA GPUs (through nvidia-smi when it is installed), and
// parses the --local-capacity override ("cpu=8,memory=32Gi,gpu=4,gpuType=T4")
// that lets tests and demos declare GPUs the machine lacks.
package hostcap

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"atrium/resource"
)

// Capacity is what a node offers.
type Capacity struct {
	Vector  resource.Vector
	GPUType string
}

func (c Capacity) String() string {
	s := c.Vector.String()
	if c.GPUType != "" {
		s += ",gpuType=" + c.GPUType
	}
	return s
}

// Detect reads this machine's capacity: all CPUs, MemTotal from
// /proc/meminfo, and the GPUs nvidia-smi lists (the first model names the
// gpuType, normalised like "Tesla T4" → "T4").
func Detect(ctx context.Context) Capacity {
	c := Capacity{Vector: resource.Vector{MilliCPU: int64(runtime.NumCPU()) * 1000, Memory: memTotal()}}
	c.Vector.GPU, c.GPUType = nvidiaGPUs(ctx)
	return c
}

func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func nvidiaGPUs(ctx context.Context) (int64, string) {
	if _, err := exec.LookPath("nvidia-smi"); err != nil {
		return 0, ""
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nvidia-smi", "--query-gpu=name", "--format=csv,noheader").Output()
	if err != nil {
		return 0, ""
	}
	return ParseNvidiaSMI(out)
}

// ParseNvidiaSMI counts the GPUs in `nvidia-smi --query-gpu=name
// --format=csv,noheader` output and names their type after the first.
func ParseNvidiaSMI(out []byte) (int64, string) {
	var n int64
	var typ string
	for _, line := range bytes.Split(out, []byte("\n")) {
		name := strings.TrimSpace(string(line))
		if name == "" {
			continue
		}
		n++
		if typ == "" {
			typ = GPUTypeOf(name)
		}
	}
	return n, typ
}

// GPUTypeOf turns a marketing name into a gpuType: "NVIDIA A100-SXM4-80GB" →
// "A100", "Tesla T4" → "T4", "NVIDIA GeForce RTX 4090" → "RTX4090".
func GPUTypeOf(name string) string {
	f := strings.Fields(name)
	for len(f) > 1 && (f[0] == "NVIDIA" || f[0] == "Tesla" || f[0] == "GeForce" || f[0] == "Quadro") {
		f = f[1:]
	}
	s := strings.Join(f, "")
	if i := strings.IndexByte(s, '-'); i > 0 {
		s = s[:i]
	}
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Override applies a "cpu=8,memory=32Gi,gpu=4,gpuType=T4" string on top of
// detected capacity; keys left out keep the detected value. Errors name the
// key and the flag.
func Override(c Capacity, s string) (Capacity, error) {
	if strings.TrimSpace(s) == "" {
		return c, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return c, fmt.Errorf("--local-capacity: %q is not key=value (keys: cpu, memory, gpu, gpuType)", kv)
		}
		var err error
		switch k {
		case "cpu":
			c.Vector.MilliCPU, err = resource.ParseCPU(v)
		case "memory":
			c.Vector.Memory, err = resource.ParseMemory(v)
		case "gpu":
			c.Vector.GPU, err = strconv.ParseInt(v, 10, 64)
			if err == nil && c.Vector.GPU < 0 {
				err = fmt.Errorf("must not be negative")
			}
		case "gpuType":
			c.GPUType, err = v, resource.ValidateGPUType(v)
		default:
			return c, fmt.Errorf("--local-capacity: unknown key %q (keys: cpu, memory, gpu, gpuType)", k)
		}
		if err != nil {
			return c, fmt.Errorf("--local-capacity: %s: %v", k, err)
		}
	}
	if c.Vector.GPU > 0 && c.GPUType == "" {
		return c, fmt.Errorf("--local-capacity: gpuType is required when gpu > 0 (e.g. gpu=4,gpuType=T4)")
	}
	if c.Vector.GPU == 0 {
		c.GPUType = ""
	}
	return c, nil
}
