#!/usr/bin/env bash
# Installs Debian's chromium when it is missing (about 90 s on a fresh
# machine) and prints its path, for the console's browser tests:
#
#   export ATRIUM_TEST_CHROMIUM=$(scripts/chromium-up.sh)
#
# The tests start the browser themselves (headless, one profile per user).
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "chromium is not installed; run as root or: sudo apt-get install -y chromium" >&2
		exit 1
	fi
	aptlog=$(mktemp)
	if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; } >"$aptlog" 2>&1; then
		cat "$aptlog" >&2
		exit 1
	fi
	rm -f "$aptlog"
fi
command -v chromium
