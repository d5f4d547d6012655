package main

import (
	"context"
	"fmt"

	"atrium"
	"atrium/executor/container"
	"atrium/secret"
)

// registryCredentials answers the container executor when it must pull an
// image: the registry registered for the image's host, with its password
// unsealed (it exists in plain only for the pull, in podman's auth file).
func registryCredentials(store atrium.RegistryService, box *secret.Box) container.CredentialsFunc {
	return func(ctx context.Context, host string) (container.Credential, bool, error) {
		r, err := store.FindRegistryByHost(ctx, host)
		if atrium.ErrorCode(err) == atrium.ENOTFOUND {
			return container.Credential{}, false, nil
		} else if err != nil {
			return container.Credential{}, false, err
		}
		c := container.Credential{Registry: r.Name, Username: r.Username, Insecure: r.Insecure}
		if len(r.Password) > 0 {
			pw, err := box.Open(r.Password, []byte(r.ID))
			if err != nil {
				return container.Credential{}, false, fmt.Errorf("the password of registry %q cannot be unsealed with this server's secret key "+
					"(was the key changed? give it again: atrium registry update %s --password-stdin)", r.Name, r.Name)
			}
			c.Password = string(pw)
		}
		return c, true, nil
	}
}
