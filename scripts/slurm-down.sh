#!/usr/bin/env bash
# Stop the one-node Slurm cluster started by scripts/slurm-up.sh: slurmd,
# slurmctld and munged, each by its pid file. Job state survives in
# /var/spool/slurmctld; slurm-up.sh starts it all again. Needs root.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "slurm-down.sh: must run as root" >&2; exit 1; }

alive() {
	local p
	p=$(cat "$1" 2>/dev/null) || return 1
	[ -n "$p" ] && [ -r "/proc/$p/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$p/status"
}
stop_pidfile() {
	local name=$1 f=$2 p
	if ! alive "$f"; then
		echo "slurm-down: $name not running" >&2
		return 0
	fi
	p=$(cat "$f")
	kill "$p" 2>/dev/null || true
	for _ in $(seq 1 50); do
		if ! alive "$f"; then
			echo "slurm-down: stopped $name" >&2
			return 0
		fi
		sleep 0.1
	done
	kill -9 "$p" 2>/dev/null || true
	echo "slurm-down: killed $name" >&2
}

stop_pidfile slurmd /run/slurm/slurmd.pid
stop_pidfile slurmctld /run/slurm/slurmctld.pid
stop_pidfile munged /run/munge/munged.pid
