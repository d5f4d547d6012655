// Package statefile keeps an executor's records on disk so that any
// process with the same directory, a restarted server included, reads
// the same state: files written whole or not at all, even across a crash.
package statefile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Write writes data to path (mode 0600) through a synced temporary file
// of its own and a rename: two writers of one file (a server and a pod's
// supervisor) never share a temporary name.
func Write(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if err = f.Chmod(0o600); err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// WriteJSON writes v, indented, with Write.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return Write(path, append(b, '\n'))
}

// ReadJSON reads path into v; a missing file is fs.ErrNotExist.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Stamp writes the current time to path: a marker whose time matters.
func Stamp(path string) error {
	return Write(path, []byte(time.Now().UTC().Format(time.RFC3339Nano)+"\n"))
}

// ModTime is path's modification time, zero when it does not exist.
func ModTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}
