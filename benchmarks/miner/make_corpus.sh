#!/usr/bin/env bash
# A corpus that is not PubMedQA, from what every Debian machine has: man pages (rendered to
# plain text at MANWIDTH columns; the default, 1000, puts each paragraph on one line, as prose is in
# most corpora) and Python module docs (pydoc: docstrings as written, hard-wrapped), one document
# per file, its first line the title (AdaptLLM's convention), trailing blanks of each line removed.
# Used by benchmarks/miner/parity.sh.
#
# usage: benchmarks/miner/make_corpus.sh OUT_DIR [MAN_PAGES (default 1000)] [PY_MODULES (default 500)]
#   env MANWIDTH (default 1000)
# Deterministic: pages and modules are taken in sorted order, every k-th one.
set -euo pipefail
out="$1"; nman="${2:-1000}"; npy="${3:-500}"
mkdir -p "$out"
mapfile -t pages < <(find /usr/share/man/man1 /usr/share/man/man8 -name '*.gz' 2>/dev/null | sort)
step=$(( ${#pages[@]} / (nman > 0 ? nman : 1) )); [ "$step" -ge 1 ] || step=1
n=0
for ((i = 0; i < ${#pages[@]} && n < nman; i += step)); do
    p="${pages[$i]}"; name="$(basename "$p" .gz)"
    text="$(MANWIDTH="${MANWIDTH:-1000}" man -l "$p" 2>/dev/null | col -bx | sed -e 's/[[:space:]]*$//' || true)"
    # Skip stubs (".so" redirects render to a line or two).
    [ "$(printf '%s' "$text" | wc -c)" -ge 400 ] || continue
    printf '%s\n' "$text" > "$out/man-$(printf '%05d' $n)-$name.txt"; n=$((n + 1))
done
py=/usr/bin/python3
mapfile -t mods < <("$py" - <<'PY'
import pkgutil, sys
names = sorted({m.name for m in pkgutil.iter_modules() if not m.name.startswith('_')}
               | set(sys.builtin_module_names) - {n for n in sys.builtin_module_names if n.startswith('_')})
print("\n".join(names))
PY
)
step=$(( ${#mods[@]} / (npy > 0 ? npy : 1) )); [ "$step" -ge 1 ] || step=1
m=0
for ((i = 0; i < ${#mods[@]} && m < npy; i += step)); do
    mod="${mods[$i]}"
    text="$(timeout 20 "$py" -c 'import pydoc, sys; sys.stdout.write(pydoc.plain(pydoc.render_doc(sys.argv[1], "%s")))' "$mod" 2>/dev/null | sed -e 's/[[:space:]]*$//' || true)"
    [ "$(printf '%s' "$text" | wc -c)" -ge 400 ] || continue
    printf '%s\n' "$text" > "$out/py-$(printf '%05d' $m)-$mod.txt"; m=$((m + 1))
done
echo "$out: $n man pages, $m Python module docs" >&2
