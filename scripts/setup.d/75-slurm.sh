#!/usr/bin/env bash
# Debian's Slurm (slurm-wlm: slurmctld, slurmd, the clients) and MUNGE, for the tests that submit
# real job arrays: scripts/slurm-local.sh starts a private single-node cluster from them (its own
# slurm.conf, munge key and socket under a folder of the caller's), so nothing here is configured
# or started; the packages' own services stay off (Docker's policy-rc.d, or no init at all).
#
# Idempotent: nothing is installed when sbatch, slurmctld, slurmd and munged are all on PATH.
# Records LECTERN_SBATCH (the sbatch binary) with setenv_persist.
# Installed with apt-get (root, or sudo without a password); `apt-get update` only when the index
# does not know the packages (or the install fails on a stale index). A dpkg/apt lock held by
# another process is waited for (DPkg::Lock::Timeout, plus a few retries for the index update).
# Measured here: 6-9 s cold with a current index (9 packages, 13 MB on disk), 0 s warm.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lock_component slurm
PATH="$PATH:/usr/sbin:/sbin"   # the daemons live in /usr/sbin, not on a plain user's PATH
have_all() { for c in sbatch slurmctld slurmd munged; do command -v "$c" >/dev/null 2>&1 || return 1; done; }
if ! have_all; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
            log "slurm: not installed, and installing it needs root (apt-get install slurm-wlm munge); the Slurm tests will fail"
            exit 1
        fi
    fi
    apt=($sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -qq)
    # `apt-get update` does not wait for the lists lock (apt 2.6 ignores DPkg::Lock::Timeout
    # there, checked): retry it a few times.
    apt_update() {
        local i
        for i in 1 2 3 4 5 6; do "${apt[@]}" update && return 0; log "slurm: apt-get update failed (lock held?); retrying in 10 s"; sleep 10; done
        "${apt[@]}" update
    }
    apt_install() { "${apt[@]}" install -y --no-install-recommends slurm-wlm munge >/dev/null; }
    if [ "$(apt-cache policy slurm-wlm munge 2>/dev/null | grep -c 'Candidate: [0-9]')" != 2 ]; then
        log "slurm: updating the apt index"
        apt_update
    fi
    log "slurm: installing Debian's slurm-wlm and munge (about 10 s)"
    apt_install || { log "slurm: install failed; updating the apt index and retrying"; apt_update; apt_install; }
    have_all || { log "slurm: sbatch, slurmctld, slurmd or munged still missing after apt-get install"; exit 1; }
fi
setenv_persist LECTERN_SBATCH "$(command -v sbatch)"
log "slurm: $(slurmd -V), $(munged --version | cut -d" " -f1) ($(command -v slurmctld))"
