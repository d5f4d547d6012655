package httpapi

import "context"

// --- Image registries ---

// CreateRegistry registers an image registry (ResourceAdmin).
func (c *Client) CreateRegistry(ctx context.Context, req RegistryRequest) (*RegistryView, error) {
	var out RegistryView
	return &out, c.do(ctx, "POST", "/api/v1/registries", nil, req, &out, nil)
}

// ListRegistries lists image registries (never their passwords).
func (c *Client) ListRegistries(ctx context.Context) (*List[*RegistryView], error) {
	var out List[*RegistryView]
	return &out, c.do(ctx, "GET", "/api/v1/registries", nil, nil, &out, nil)
}

// GetRegistry reads an image registry (ResourceAdmin).
func (c *Client) GetRegistry(ctx context.Context, id string) (*RegistryView, error) {
	var out RegistryView
	return &out, c.do(ctx, "GET", "/api/v1/registries/"+pathEsc(id), nil, nil, &out, nil)
}

// UpdateRegistry changes an image registry; nil fields stay.
func (c *Client) UpdateRegistry(ctx context.Context, id string, req UpdateRegistryRequest) (*RegistryView, error) {
	var out RegistryView
	return &out, c.do(ctx, "PUT", "/api/v1/registries/"+pathEsc(id), nil, req, &out, nil)
}

// DeleteRegistry deletes an image registry.
func (c *Client) DeleteRegistry(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/api/v1/registries/"+pathEsc(id), nil, nil, nil, nil)
}
