#!/usr/bin/env bash
# Installs the CNCF distribution registry (Debian's docker-registry) when
# it is missing and prints the path of its binary. The tests that pull
# from a private registry (executor/container, cmd/atrium) start their own
# on a free loopback port, with htpasswd sign-in, a random password and
# storage in the test's temporary directory, and stop it when they end:
#
#   export ATRIUM_TEST_REGISTRY=$(scripts/registry-up.sh)
#
# Nothing is left running: the package's own service is not started here.
set -euo pipefail

if ! command -v docker-registry >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "docker-registry is not installed; run as root or: sudo apt-get install -y docker-registry" >&2
		exit 1
	fi
	log=$(mktemp)
	# The package's init script would start a registry on :5000; tests
	# start their own.
	if ! { apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends docker-registry; } >"$log" 2>&1; then
		cat "$log" >&2
		exit 1
	fi
	rm -f "$log"
fi
bin=$(command -v docker-registry)
"$bin" --version >&2
echo "$bin"
