#!/usr/bin/env python3
"""Reference for Lectern's miner: Python's own `re.findall(pattern, text, re.IGNORECASE)`.

Reads JSON {"patterns": [str], "texts": [str]} from the file named by argv[1] (or stdin) and
writes JSON to stdout: for each text, for each pattern, the list of match tuples (lists of
group strings). Standard library only, so any CPython 3 can run it.
"""
import json
import re
import sys


def main():
    src = open(sys.argv[1], encoding="utf-8") if len(sys.argv) > 1 else sys.stdin
    job = json.load(src)
    regexes = [re.compile(p, re.IGNORECASE) for p in job["patterns"]]
    out = [[[list(t) for t in r.findall(text)] for r in regexes] for text in job["texts"]]
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
