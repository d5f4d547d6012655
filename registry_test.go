package atrium_test

import (
	"strings"
	"testing"

	"atrium"
)

func TestParseRegistryHost(t *testing.T) {
	for in, want := range map[string]string{
		"registry.example.com":      "registry.example.com",
		"Registry.Example.COM:5000": "registry.example.com:5000",
		"127.0.0.1:5000":            "127.0.0.1:5000",
		"localhost:5000":            "localhost:5000",
		"[::1]:5000":                "[::1]:5000",
		"docker.io":                 "docker.io",
		"my-registry":               "my-registry",
	} {
		got, err := atrium.ParseRegistryHost("host", in)
		if err != nil || got != want {
			t.Errorf("ParseRegistryHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, rule := range map[string]string{
		"":                         "required",
		"https://r.example.com":    "scheme",
		"r.example.com/team":       "path",
		"r.example.com:":           "port",
		"r.example.com:0":          "port",
		"r.example.com:05000":      "port",
		"r.example.com:65536":      "port",
		"user@r.example.com":       "user name",
		"r example.com":            "spaces",
		"-r.example.com":           "host name",
		"r..example.com":           "host name",
		"r_1.example.com":          "host name",
		"r.example.com.":           "host name",
		"[127.0.0.1]:5000":         "IPv6",
		"[::1":                     "IPv6",
		"localhost":                "never pulled",
		strings.Repeat("a", 64):    "63 characters",
		"r.example.com:5000:6000":  "host name",
		"ümlaut.example.com":       "host name",
		"r.example.com?x=1":        "host name",
		"r.example.com#frag":       "host name",
		"r.example.com:5000/":      "path",
		"http://127.0.0.1:5000/v2": "scheme",
	} {
		_, err := atrium.ParseRegistryHost("host", in)
		e := atrium.AsError(err)
		if e == nil || e.Code != atrium.EINVALID || e.Field != "host" || !strings.Contains(e.Message, rule) {
			t.Errorf("ParseRegistryHost(%q) = %v; want EINVALID on host saying %q", in, err, rule)
		}
	}
}
