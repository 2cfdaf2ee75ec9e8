#!/usr/bin/env bash
# Runs all of Lectern's tests. Installs what they need first (cached under $LECTERN_CACHE):
# every scripts/setup.d/*.sh, in order; each records what it set up in $LECTERN_ENV_FILE.
#
#   scripts/test.sh [swift test options]    everything (CI, .ci/run): a missing component fails
#   scripts/test.sh --quick [options]       a fast local loop: no installers, and the suites that
#                                           need an external component (models, llama-server,
#                                           Python references) or run whole pipelines in child
#                                           processes are left out; a test whose component is
#                                           missing skips instead of failing
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$LECTERN_ROOT"
QUICK=0
if [ "${1:-}" = "--quick" ]; then QUICK=1; shift; fi
if [ "$QUICK" = 1 ]; then
    # Suites that need a model, llama-server or a Python reference, or drive many `lectern`
    # processes (kill and resume): together about 400 of the suite's 450 s.
    SLOW='RunRecipeDefectTests|RunKillResumeTests|BuildPipelineTests|EmbedRunTests|BPETests|MiniLMReferenceTests'
    SLOW+='|KernelThreadTests|KernelTests|ClientFaultTests|KillResumeTests|ClusterKillResumeTests|LlamaServer|TrainTests|EvalTests|ServerScoringTests|ServerPoolTests|DistillationTests|SlurmShardTests|ShardMergeTests'
    set -- --skip "$SLOW" "$@"
else
    export LECTERN_REQUIRE_COMPONENTS=1   # tests fail (not skip) when a component is missing
    for s in scripts/setup.d/*.sh; do
        [ -e "$s" ] || continue
        log "setup: $s"
        bash "$s"
    done
fi
[ -f "$LECTERN_ENV_FILE" ] && . "$LECTERN_ENV_FILE"
# Release mode: the suite runs real encoders, miners and vector scans over whole corpora, which
# a debug build makes 20-100x slower. -enable-testing keeps @testable imports working; the
# separate scratch path keeps these flags from invalidating the plain release build of run.sh.
BUILD=(-c release -Xswiftc -enable-testing --scratch-path .build-test)
log "building (release, testable) and running the test suite$([ "$QUICK" = 1 ] && echo " (--quick)")"
swift build "${BUILD[@]}" --build-tests
swift test "${BUILD[@]}" --skip-build "$@"
