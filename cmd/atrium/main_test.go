package main

import (
	"os"
	"testing"
)

// TestMain runs the tests' servers in process mode unless a test asks for
// containers (--runtime podman): their jobs name images that exist only
// as words, and CI has podman installed.
func TestMain(m *testing.M) {
	if os.Getenv("ATRIUM_RUNTIME") == "" {
		os.Setenv("ATRIUM_RUNTIME", "process")
	}
	os.Exit(m.Run())
}
