#!/usr/bin/env bash
# Runs all of Lectern's tests. Installs what they need first (cached under $LECTERN_CACHE):
# every scripts/setup.d/*.sh, in order; each records what it set up in $LECTERN_ENV_FILE.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$LECTERN_ROOT"
export LECTERN_REQUIRE_COMPONENTS=1   # tests fail (not skip) when a component is missing
for s in scripts/setup.d/*.sh; do
    [ -e "$s" ] || continue
    log "setup: $s"
    bash "$s"
done
[ -f "$LECTERN_ENV_FILE" ] && . "$LECTERN_ENV_FILE"
# Release mode: the suite runs real encoders, miners and vector scans over whole corpora, which
# a debug build makes 20-100x slower. -enable-testing keeps @testable imports working; the
# separate scratch path keeps these flags from invalidating the plain release build of run.sh.
BUILD=(-c release -Xswiftc -enable-testing --scratch-path .build-test)
log "building (release, testable) and running the test suite"
swift build "${BUILD[@]}" --build-tests
swift test "${BUILD[@]}" --skip-build "$@"
