#!/usr/bin/env bash
# Debian's Chromium, for the report tests: they render `lectern report`'s page headless
# (--headless --no-sandbox --dump-dom / --screenshot) and read the charts' numbers back.
#
# Idempotent: nothing happens when a chromium binary is already on PATH (or LECTERN_CHROMIUM
# names one). Installed from Debian's archive with apt-get (root, or sudo without a password);
# measured here: 58 s cold, with the index update, about 350 MB on disk.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lock_component chromium
found="${LECTERN_CHROMIUM:-}"
if [ -z "$found" ]; then
    for c in chromium chromium-browser google-chrome; do
        if command -v "$c" >/dev/null 2>&1; then found="$(command -v "$c")"; break; fi
    done
fi
if [ -z "$found" ]; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
            log "chromium: not installed, and installing it needs root (apt-get install chromium); the report's browser tests will fail"
            exit 1
        fi
    fi
    log "chromium: installing Debian's chromium and the DejaVu fonts (about a minute)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
    found="$(command -v chromium)"
fi
setenv_persist LECTERN_CHROMIUM "$found"
log "chromium: $("$found" --version 2>/dev/null | head -1) at $found"
