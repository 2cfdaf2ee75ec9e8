#!/usr/bin/env bash
# The main job, end to end on embedded defaults: builds lectern (release, cached in .build/),
# then runs the pipeline over the PubMedQA abstracts into one file (default out/pubmedqa.lectern).
# Every stage is resumable: run it again after an interruption and it does only what is missing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$LECTERN_ROOT"
FILE="${1:-out/pubmedqa.lectern}"
SHARED="${LECTERN_SHARED_DATA:-$LECTERN_ROOT/../shared/data}"
PUBMEDQA="$SHARED/pubmedqa/ori_pqal.json"
[ -f "$PUBMEDQA" ] || { echo "error: $PUBMEDQA not found (set LECTERN_SHARED_DATA to the shared data folder)" >&2; exit 1; }
for s in scripts/setup.d/*.sh; do
    [ -e "$s" ] || continue
    case "$(basename "$s")" in *-test-*) continue ;; esac   # test-only installers
    log "setup: $s"; bash "$s"
done
[ -f "$LECTERN_ENV_FILE" ] && . "$LECTERN_ENV_FILE"
log "building lectern (release)"
swift build -c release --product lectern >&2
LECTERN="$(swift build -c release --show-bin-path)/lectern"
mkdir -p "$(dirname "$FILE")"
log "init";   "$LECTERN" init "$FILE" --domain biomedicine
log "ingest"; "$LECTERN" ingest "$FILE" "$PUBMEDQA"
log "status"; "$LECTERN" status "$FILE"
