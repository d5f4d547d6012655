#!/usr/bin/env bash
# Start a one-node Slurm 22.05 cluster on this host (Debian 12, no systemd
# needed), for the Slurm executor's tests and for trying the slurm backend:
#
#   sudo scripts/slurm-up.sh          # install if missing, configure, start, wait for the node
#   sudo scripts/slurm-down.sh        # stop the daemons again
#
# Installs slurmctld, slurmd, slurm-client and munge with apt-get when they are
# missing, writes /etc/slurm/slurm.conf with one node named after this host
# (its real CPU count and memory; ATRIUM_SLURM_CPUS overrides the CPU count)
# in a default partition "atrium", starts munged, slurmctld and slurmd
# directly and waits until sinfo shows the node up. Safe to run twice: running
# daemons are kept unless the configuration changed. No GRES are configured,
# so a job asking for --gres is rejected by sbatch at once. Creates the
# non-root system accounts atrium-job and atrium-job2 that the tests' jobs
# run as.
# Prints nothing secret (the munge key is never shown). Needs root.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "slurm-up.sh: must run as root" >&2; exit 1; }

log() { echo "slurm-up: $*" >&2; }
# true if the pid in file $1 is alive and not a zombie (daemons re-parented to
# a PID 1 that does not reap stay <defunct> after they exit)
alive() {
	local p
	p=$(cat "$1" 2>/dev/null) || return 1
	[ -n "$p" ] && [ -r "/proc/$p/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$p/status"
}
stop_pidfile() {
	local f=$1 p
	alive "$f" || return 0
	p=$(cat "$f")
	kill "$p" 2>/dev/null || true
	for _ in $(seq 1 50); do alive "$f" || return 0; sleep 0.1; done
	kill -9 "$p" 2>/dev/null || true
}

# --- packages ---
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
	! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
	log "installing slurmctld slurmd slurm-client munge"
	export DEBIAN_FRONTEND=noninteractive
	aptlog=$(mktemp)
	if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
		slurmctld slurmd slurm-client munge; } >"$aptlog" 2>&1; then
		cat "$aptlog" >&2
		exit 1
	fi
	rm -f "$aptlog"
fi

# --- accounts of the tests ---
# Atrium never runs Slurm jobs as root: tests map workspaces and users to
# these system accounts (slurmd runs on this host, so they exist for it too).
for u in atrium-job atrium-job2; do
	id -u "$u" >/dev/null 2>&1 || useradd --system --user-group --shell /bin/bash --home-dir /nonexistent --no-create-home "$u"
done

# --- munge ---
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge /etc/munge
if [ ! -s /etc/munge/munge.key ]; then
	mungekey --create --keyfile=/etc/munge/munge.key >&2 # Debian's postinst normally did it
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! munge -n >/dev/null 2>&1; then
	runuser -u munge -- /usr/sbin/munged # daemonizes; pid in /run/munge/munged.pid
fi
munge -n | unmunge >/dev/null

# --- slurm.conf ---
node=$(hostname -s)
cpus=${ATRIUM_SLURM_CPUS:-$(nproc)}
mem=$(awk '/^MemTotal:/ {print int($2/1024)}' /proc/meminfo)
install -d -o slurm -g slurm -m 0755 /var/spool/slurmctld /var/log/slurm /run/slurm
install -d -m 0755 /var/spool/slurmd /etc/slurm
conf=$(
	cat <<CONF
# Written by atrium scripts/slurm-up.sh: one node, this host.
ClusterName=atrium
SlurmctldHost=localhost
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
ReturnToService=2
MpiDefault=none
MinJobAge=300
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
SlurmdParameters=config_overrides
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=atrium Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
)
changed=0
if [ "$(cat /etc/slurm/slurm.conf 2>/dev/null)" != "$conf" ]; then
	printf '%s\n' "$conf" >/etc/slurm/slurm.conf.new
	chmod 0644 /etc/slurm/slurm.conf.new
	mv /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf
	changed=1
fi
# No cgroup.conf: proctrack/linuxproc and task/none do not use cgroups, and
# CgroupPlugin=disabled does not exist in 22.05 (slurmd would refuse to start).
rm -f /etc/slurm/cgroup.conf

# --- daemons ---
if [ "$changed" = 1 ]; then
	# node definitions only change on a restart
	stop_pidfile /run/slurm/slurmd.pid
	stop_pidfile /run/slurm/slurmctld.pid
fi
alive /run/slurm/slurmctld.pid || /usr/sbin/slurmctld          # daemonizes, drops to SlurmUser
alive /run/slurm/slurmd.pid || /usr/sbin/slurmd -N "$node"     # -N: node name is the short hostname

# --- wait for the node ---
st=
for i in $(seq 1 100); do
	st=$(sinfo -h -N -n "$node" -o '%t' 2>/dev/null | head -n1 || true)
	case $st in
	idle | mix | alloc | comp) break ;;
	drain* | down*)
		# left over from an earlier run: bring it back
		[ "$i" = 20 ] && scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true
		;;
	esac
	sleep 0.2
done
case $st in
idle | mix | alloc | comp) ;;
*)
	log "node $node is not up (sinfo state: '${st:-none}'); see /var/log/slurm/slurmctld.log and slurmd.log"
	exit 1
	;;
esac
sinfo >&2
log "node $node ($cpus CPUs, $mem MiB) is $st in partition atrium"
