"""Document-by-document parity of two miner dumps (AdaptLLM's from adaptllm_dump.py, Lectern's
from `lectern-miner-bench --compat adaptllm --dump`): for each field, on how many documents the
two are identical, and on how many documents that field is non-empty in AdaptLLM's (so a 100%
on a field that is almost always empty reads as what it is). Prints a few differing documents.

usage: compare_dumps.py ADAPTLLM.jsonl LECTERN.jsonl [--show N]
"""
import argparse
import json

FIELDS = ["truncated", "title", "sentences", "Entail", "Contradict", "Neutral", "Cause-effect",
          "Effect-cause", "Similar", "Different", "definition", "topic", "keywords"]
TUPLES = FIELDS[3:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reference")
    ap.add_argument("ours")
    ap.add_argument("--show", type=int, default=3)
    a = ap.parse_args()
    ref = {r["file"]: r for r in map(json.loads, open(a.reference, encoding="utf-8"))}
    ours = {r["file"]: r for r in map(json.loads, open(a.ours, encoding="utf-8"))}
    files = sorted(set(ref) & set(ours))
    if set(ref) != set(ours):
        print(f"documents only in one dump: {len(set(ref) ^ set(ours))}")
    n = len(files)
    same = {f: 0 for f in FIELDS}
    nonempty = {f: 0 for f in FIELDS}
    all_tuples = 0
    text_and_tuples = 0
    shown = {f: 0 for f in FIELDS}
    for name in files:
        r, o = ref[name], ours[name]
        for f in FIELDS:
            if r.get(f):
                nonempty[f] += 1
            if r.get(f) == o.get(f):
                same[f] += 1
            elif shown[f] < a.show:
                shown[f] += 1
                print(f"--- {name}: {f} differs")
                if f in ("sentences",):
                    rs, os_ = r[f], o[f]
                    k = next((i for i in range(min(len(rs), len(os_))) if rs[i] != os_[i]), min(len(rs), len(os_)))
                    print(f"  AdaptLLM [{k}:{k+3}] of {len(rs)}: {rs[k:k+3]!r}")
                    print(f"  Lectern  [{k}:{k+3}] of {len(os_)}: {os_[k:k+3]!r}")
                elif f == "truncated":
                    rs, os_ = r[f] or "", o[f] or ""
                    k = next((i for i in range(min(len(rs), len(os_))) if rs[i] != os_[i]), min(len(rs), len(os_)))
                    print(f"  lengths {len(rs)} vs {len(os_)}; first difference at {k}: {rs[k-20:k+40]!r} vs {os_[k-20:k+40]!r}")
                else:
                    print(f"  AdaptLLM: {json.dumps(r.get(f), ensure_ascii=False)[:400]}")
                    print(f"  Lectern:  {json.dumps(o.get(f), ensure_ascii=False)[:400]}")
        t = all(r.get(f) == o.get(f) for f in TUPLES)
        all_tuples += t
        text_and_tuples += t and r["truncated"] == o["truncated"]
    print(f"\n{n} documents")
    for f in FIELDS:
        print(f"  {f:<13} identical {same[f]:>6} ({100 * same[f] / max(n, 1):6.2f}%)   non-empty in AdaptLLM's: {nonempty[f]}")
    print(f"  every tuple type identical:              {all_tuples:>6} ({100 * all_tuples / max(n, 1):6.2f}%)")
    print(f"  truncated text and every tuple identical: {text_and_tuples:>6} ({100 * text_and_tuples / max(n, 1):6.2f}%)")


if __name__ == "__main__":
    main()
