package atrium

import (
	"context"
	"net/mail"
	"regexp"
	"time"
	"unicode/utf8"
)

// Platform roles hold across all workspaces.
const (
	RoleResourceAdmin = "ResourceAdmin"
)

// User is a person or robot that calls Atrium.
type User struct {
	ID                 string    `json:"userId"`
	Name               string    `json:"name"`
	DisplayName        string    `json:"displayName"`
	Email              string    `json:"email,omitempty"`
	PasswordHash       string    `json:"-"`
	Disabled           bool      `json:"disabled"`
	PlatformRoles      []string  `json:"platformRoles"`
	DefaultWorkspaceID string    `json:"defaultWorkspaceId,omitempty"`
	CreatedAt          time.Time `json:"createdAt"`
	UpdatedAt          time.Time `json:"updatedAt"`
}

// IsResourceAdmin reports whether the user holds the platform role.
func (u *User) IsResourceAdmin() bool {
	for _, r := range u.PlatformRoles {
		if r == RoleResourceAdmin {
			return true
		}
	}
	return false
}

var userNameRE = regexp.MustCompile(`^[a-z][a-z0-9._-]{1,62}$`)

// ValidateUserName checks the login name rule.
func ValidateUserName(name string) error {
	if !userNameRE.MatchString(name) {
		return FieldErrorf("name", "must be 2–63 characters of lowercase letters, digits, '.', '_' or '-', starting with a letter")
	}
	return nil
}

// ValidatePassword checks the password rule (length only: NIST 800-63B).
func ValidatePassword(pw string) error {
	if n := utf8.RuneCountInString(pw); n < 8 || n > 256 {
		return FieldErrorf("password", "must be 8–256 characters")
	}
	return nil
}

// ValidateEmail checks an optional email address.
func ValidateEmail(email string) error {
	if email == "" {
		return nil
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return FieldErrorf("email", "must be a plain address like name@example.com")
	}
	return nil
}

// ValidateDisplayName checks an optional display name.
func ValidateDisplayName(field, s string) error {
	if utf8.RuneCountInString(s) > 64 {
		return FieldErrorf(field, "must be at most 64 characters")
	}
	return nil
}

// Token is an API token. The secret itself is shown once at creation and only
// its hash is kept.
type Token struct {
	ID         string     `json:"tokenId"`
	UserID     string     `json:"userId"`
	Name       string     `json:"name"`
	Hash       string     `json:"-"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
}

// Active reports whether the token may authenticate at time now.
func (t *Token) Active(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// UserFilter selects users.
type UserFilter struct {
	ID       *string
	Name     *string
	NameLike string // case-insensitive substring of name or display name
	Offset   int
	Limit    int // 0 means no limit
}

// UserUpdate holds the changeable fields of a user; nil means unchanged.
type UserUpdate struct {
	DisplayName        *string
	Email              *string
	PasswordHash       *string
	Disabled           *bool
	DefaultWorkspaceID *string
}

// UserService manages users and their tokens.
type UserService interface {
	// CreateUser inserts u, setting ID and timestamps. ECONFLICT if the name is taken.
	CreateUser(ctx context.Context, u *User) error
	// BootstrapAdmin creates u and tok together, only if no user exists yet;
	// it reports whether it did.
	BootstrapAdmin(ctx context.Context, u *User, tok *Token) (bool, error)
	// FindUserByID returns ENOTFOUND if there is no such user.
	FindUserByID(ctx context.Context, id string) (*User, error)
	// FindUserByName returns ENOTFOUND if there is no such user.
	FindUserByName(ctx context.Context, name string) (*User, error)
	// FindUsers returns a page of users ordered by name and the total count.
	FindUsers(ctx context.Context, f UserFilter) ([]*User, int, error)
	// UpdateUser returns ENOTFOUND if there is no such user.
	UpdateUser(ctx context.Context, id string, upd UserUpdate) (*User, error)

	// CreateToken inserts tok, setting ID and CreatedAt.
	CreateToken(ctx context.Context, tok *Token) error
	// FindTokenByHash returns the token and its user; ENOTFOUND if unknown.
	FindTokenByHash(ctx context.Context, hash string) (*Token, *User, error)
	// FindTokens lists a user's tokens, newest first.
	FindTokens(ctx context.Context, userID string) ([]*Token, error)
	// TouchToken records a use of the token.
	TouchToken(ctx context.Context, id string, at time.Time) error
	// RevokeToken marks the user's token revoked; ENOTFOUND if not theirs.
	RevokeToken(ctx context.Context, userID, id string) (*Token, error)
}
