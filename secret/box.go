package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of a Box key: AES-256.
const KeySize = 32

// Box seals write-only secrets (code-source tokens, warehouse passwords)
// for storage with AES-256-GCM; the database alone never reveals them.
type Box struct {
	aead cipher.AEAD
}

// NewBox returns a Box for a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// boxVersion prefixes sealed values so the format can change later.
const boxVersion = 1

// Seal encrypts plain with a fresh nonce; aad binds the ciphertext to its
// owner (e.g. the asset id) so it cannot be moved to another record.
func (b *Box) Seal(plain, aad []byte) []byte {
	nonce := make([]byte, b.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := append([]byte{boxVersion}, nonce...)
	return b.aead.Seal(out, nonce, plain, aad)
}

// ErrOpen is returned for a value that is not a sealed secret of this key
// and aad.
var ErrOpen = errors.New("secret: cannot open sealed value (wrong key or tampered)")

// Open decrypts what Seal produced with the same aad.
func (b *Box) Open(sealed, aad []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != boxVersion {
		return nil, ErrOpen
	}
	plain, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// KeyEnv names the environment variable that can hold the key (base64).
const KeyEnv = "ATRIUM_SECRET_KEY"

// LoadKey returns the key from $ATRIUM_SECRET_KEY (base64 of 32 bytes) or
// from <dataDir>/secret.key, creating that file (mode 0600) on first use.
// Replicas sharing one database must share the key (set the variable).
func LoadKey(dataDir string) ([]byte, error) {
	if v := strings.TrimSpace(os.Getenv(KeyEnv)); v != "" {
		k, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(k) != KeySize {
			return nil, fmt.Errorf("%s must be the base64 of %d random bytes (e.g. `head -c 32 /dev/urandom | base64`)", KeyEnv, KeySize)
		}
		return k, nil
	}
	path := filepath.Join(dataDir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != KeySize {
			return nil, fmt.Errorf("%s is not a valid key file", path)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadKey(dataDir) // another process created it first
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		return nil, err
	}
	return k, f.Sync()
}
