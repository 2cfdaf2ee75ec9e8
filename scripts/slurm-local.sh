#!/usr/bin/env bash
# A private single-node Slurm cluster for tests (Debian's slurm-wlm + munge, installed by
# scripts/setup.d/75-slurm.sh). Everything lives under DIR: slurm.conf, the munge key, socket and
# seed, the controller's state, slurmd's spool, logs and pid files; nothing under /etc or /run.
#
#   eval "$(scripts/slurm-local.sh start DIR)"   start (or find running) and print the client's env:
#                                                export SLURM_CONF=DIR/slurm.conf (all sbatch,
#                                                squeue, scontrol, scancel need)
#   scripts/slurm-local.sh stop DIR              cancel every job, stop the daemons, wait for them
#
# The node is this host (`hostname -s`, at 127.0.0.1) with the CPUs and memory `slurmd -C` finds,
# partition `debug` (default); select/cons_tres + CR_CPU, so every CPU (hyperthread) runs one
# 1-CPU task; no cgroups (proctrack/linuxproc, task/none), no accounting (so no sacct: read a
# job's JobState/ExitCode with `scontrol show job ID`, kept MinJobAge seconds after it ends).
# Daemons run as root (SlurmUser=root), and jobs as whoever submitted them.
# Environment:
#   SLURM_LOCAL_PORT       slurmctld's port; slurmd's is the next one. Unset: the first free pair
#                          from 16817 up (so clusters in different DIRs do not collide)
#   SLURM_LOCAL_MAX_ARRAY  MaxArraySize (default 1001: array indices 0-1000)
#   SLURM_LOCAL_MIN_JOB_AGE  MinJobAge, seconds a finished job stays in scontrol (default 3600)
# A second `start` of a DIR whose daemons all run only prints the env; a half-running one is
# stopped and started again. Job state (and the job-id counter) survives stop/start.
set -euo pipefail
PATH="$PATH:/usr/sbin:/sbin"
cmd="${1:-}"; dir="${2:-}"
[ -n "$dir" ] && { [ "$cmd" = start ] || [ "$cmd" = stop ]; } || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"
conf="$dir/slurm.conf"
daemons=(munged slurmctld slurmd)
say() { echo "slurm-local: $*" >&2; }
pid_of() { local p; p="$(cat "$dir/run/$1.pid" 2>/dev/null)" && [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"; }
running() { local d; for d in "${daemons[@]}"; do pid_of "$d" >/dev/null || return 1; done; }
# Clients retry an unreachable controller for tens of seconds: bounded here.
sl() { SLURM_CONF="$conf" timeout 5 "$@" 2>/dev/null; }
node_state() { sl sinfo -h -N -n "$node" -o %t | head -1; }
node="$(hostname -s)"

stop() {
    if pid_of slurmctld >/dev/null; then   # cancel jobs while the daemons can still clean up
        sl scancel --full --quiet $(sl squeue -h -o %A) || true
        for _ in $(seq 50); do [ -z "$(sl squeue -h -t R,CG -o %A)" ] && break; sleep 0.2; done
    fi
    local d p pids=()
    for d in slurmd slurmctld munged; do
        if p="$(pid_of "$d")"; then kill "$p"; pids+=("$p"); fi
    done
    # Step daemons left over (slurmd was killed some other way): those with files open under DIR.
    for p in $(pgrep -x slurmstepd || true); do
        ls -l "/proc/$p/fd" 2>/dev/null | grep -q -- "-> $dir/" && { kill -9 "$p" 2>/dev/null || true; }
    done
    for _ in $(seq 100); do
        local alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break; sleep 0.1
    done
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done   # after 10 s
    rm -f "$dir"/run/*.pid
}

if [ "$cmd" = stop ]; then stop; exit 0; fi

# --- start -------------------------------------------------------------------------------------
# slurmstepd's sockets in DIR/spool and munge's must fit a unix socket path (108 bytes).
[ "${#dir}" -le 70 ] || { say "DIR too long (${#dir} > 70 characters): $dir"; exit 1; }
exec 8>"$dir/.lock"; flock 8          # two starts of one DIR take turns
if running && [[ "$(node_state)" =~ ^(idle|mix|alloc)$ ]]; then
    echo "export SLURM_CONF=$conf"; exit 0
fi
stop                                  # whatever half of it still runs
mkdir -p "$dir"/{munge,state,spool,log,run}
chmod 711 "$dir/munge"   # munged: key dir not writable by others, socket dir searchable by all

# Ports: one machine-wide lock while choosing and binding, so parallel starts do not pick the same.
exec 7>/tmp/slurm-local.ports.lock; flock 7
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port="${SLURM_LOCAL_PORT:-}"
if [ -z "$port" ]; then
    port=16817; while in_use "$port" || in_use $((port + 1)); do port=$((port + 2)); done
elif in_use "$port" || in_use $((port + 1)); then
    say "SLURM_LOCAL_PORT=$port: port $port or $((port + 1)) is in use"; exit 1
fi

# munged with its own key, socket, pid, log and seed; --force, as it refuses a socket whose
# parents are not searchable by all (mktemp -d makes DIR 0700): root's clients still reach it.
[ -s "$dir/munge/munge.key" ] || mungekey --create --keyfile="$dir/munge/munge.key" 2>/dev/null \
    || dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$dir/munge/munge.key"
munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" 7>&- 8>&- </dev/null >/dev/null 2>&1

hw="$(slurmd -C | head -1 | sed 's/^NodeName=[^ ]* //')"   # CPUs=.. Boards=.. ... RealMemory=..
cat > "$conf" <<EOF
# Written by scripts/slurm-local.sh start; regenerated on every start.
ClusterName=lectern
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
MaxArraySize=${SLURM_LOCAL_MAX_ARRAY:-1001}
MinJobAge=${SLURM_LOCAL_MIN_JOB_AGE:-3600}
NodeName=$node NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
# The daemons must not inherit (and hold) the locks, nor the caller's stdout/stderr: a caller
# reading our output through a pipe would otherwise wait for the daemons to exit. They log to files.
slurmctld -f "$conf" 7>&- 8>&- </dev/null >/dev/null 2>&1
slurmd -f "$conf" 7>&- 8>&- </dev/null >/dev/null 2>&1

# Ready when the node shows idle (30 s at most; a daemon gone after 2 s fails at once);
# otherwise the logs' tails, and stop.
started=$SECONDS
while [ $((SECONDS - started)) -lt 30 ]; do
    if running; then [ "$(node_state)" = idle ] && { echo "export SLURM_CONF=$conf"; exit 0; }
    elif [ $((SECONDS - started)) -ge 2 ]; then break; fi
    sleep 0.2
done
say "the node did not come up idle (state: '$(node_state)'); logs in $dir/log:"
for f in "$dir"/log/*.log; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done
stop; exit 1
