#!/usr/bin/python3
"""Filtered KNN: LecternVec's metadata columns vs sqlite-vec's, side by side on the same data.

Run with Debian's /usr/bin/python3 via `benchmarks/vec/run.sh --filtered`. One table per engine,
n rows of D float32 with four metadata columns (genre text, year integer, rating float, fav
boolean), file databases; per filter: the median latency of k = 10 queries in each engine, the
ratio, and whether both return the same rows. Also the file size after deleting half the rows
and inserting as many again (slot reuse).
"""
import argparse, os, sqlite3, statistics, time
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--lib", required=True, help="libLecternVec without .so")
p.add_argument("--vec0", required=True, help="sqlite-vec's vec0 without .so")
p.add_argument("--rows", type=int, default=100000)
p.add_argument("--dim", type=int, default=384)
p.add_argument("--queries", type=int, default=20)
p.add_argument("--k", type=int, default=10)
p.add_argument("--data", default=os.path.expanduser("~/.cache/lectern/bench-vec"))
args = p.parse_args()
os.makedirs(args.data, exist_ok=True)
N, D, K = args.rows, args.dim, args.k

rng = np.random.default_rng(7)
centers = rng.normal(0, 1, (max(16, N // 500), D)).astype(np.float32)
x = (centers[rng.integers(0, len(centers), N + args.queries)] + rng.normal(0, 1, (N + args.queries, D))).astype(np.float32)
vectors, queries = x[:N], x[N:]
genres = [f"g{i}" for i in range(10)]
meta = [(genres[rng.integers(0, 10)], int(rng.integers(1950, 2025)), float(rng.integers(0, 50)) / 10, int(rng.integers(0, 2)))
        for _ in range(N)]

FILTERS = [
    ("none", ""),
    ("genre = 'g3' (10%)", "AND genre = 'g3'"),
    ("genre != 'g3' (90%)", "AND genre != 'g3'"),
    ("year < 1958 (11%)", "AND year < 1958"),
    ("genre IN (g1, g2, g5) (30%)", "AND genre IN ('g1', 'g2', 'g5')"),
    ("year >= 2020 AND fav = 1 (3%)", "AND year >= 2020 AND fav = 1"),
    ("rating > 4.5 AND genre = 'g7' (0.8%)", "AND rating > 4.5 AND genre = 'g7'"),
]


def connect(path, ext):
    db = sqlite3.connect(path, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(ext)
    db.execute("PRAGMA cache_size = -8000000")
    return db


def build(name, ext, module):
    path = f"{args.data}/filtered-{name}-{N}.db"
    for s in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(path + s):
            os.remove(path + s)
    db = connect(path, ext)
    db.execute(f"CREATE VIRTUAL TABLE t USING {module}(v float[{D}], genre text, year integer, rating float, fav boolean)")
    t0 = time.perf_counter()
    db.execute("BEGIN")
    db.executemany("INSERT INTO t(rowid, v, genre, year, rating, fav) VALUES (?, ?, ?, ?, ?, ?)",
                   ((i + 1, vectors[i].tobytes()) + meta[i] for i in range(N)))
    db.execute("COMMIT")
    return path, db, N / (time.perf_counter() - t0)


def timed(db, where):
    sql = f"SELECT rowid FROM t WHERE v MATCH ? AND k = {K} {where}"
    db.execute(sql, (queries[0].tobytes(),)).fetchall()  # warm the cache
    times, results = [], []
    for q in queries:
        t0 = time.perf_counter()
        r = [a for (a,) in db.execute(sql, (q.tobytes(),))]
        times.append(time.perf_counter() - t0)
        results.append(r)
    return statistics.median(times) * 1000, results


engines = [("sqlite-vec", args.vec0, "vec0"), ("lectern", args.lib, "lectern_vec")]
dbs = {}
print(f"== filtered KNN, {N} x {D} float32 + 4 metadata columns, k = {K}, {args.queries} queries, file databases ==")
for name, ext, module in engines:
    path, db, rate = build(name, ext, module)
    dbs[name] = (path, db)
    print(f"insert {name:10s}: {rate:8.0f} rows/s")
for label, where in FILTERS:
    (sm, sr), (lm, lr) = timed(dbs["sqlite-vec"][1], where), timed(dbs["lectern"][1], where)
    same = sum(len(set(a) & set(b)) for a, b in zip(sr, lr)) / max(1, sum(len(a) for a in sr))
    print(f"{label:38s} sqlite-vec {sm:8.2f} ms  lectern {lm:8.2f} ms  latency ratio lectern/sqlite-vec = {lm/sm:.3f}  same rows: {same:.3f}")

# Slot reuse: delete every other row, insert as many new ones, checkpoint, compare file sizes.
print("\n== file size after deleting 50% of the rows and inserting as many again ==")
for name, (path, db) in dbs.items():
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = os.path.getsize(path)
    db.execute("BEGIN")
    db.execute("DELETE FROM t WHERE rowid % 2 = 0")
    db.executemany("INSERT INTO t(rowid, v, genre, year, rating, fav) VALUES (?, ?, ?, ?, ?, ?)",
                   ((N + i + 1, vectors[i].tobytes()) + meta[i] for i in range(0, N, 2)))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    after = os.path.getsize(path)
    print(f"{name:10s}: {before/1e6:8.1f} MB before, {after/1e6:8.1f} MB after ({after/before:.2f}x)")
    db.close()
    os.remove(path)
