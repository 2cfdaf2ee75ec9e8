#!/usr/bin/python3
"""LecternVec vs sqlite-vec, side by side on identical data in file databases.

Run with Debian's /usr/bin/python3 (it can load SQLite extensions) via benchmarks/vec/run.sh.
Prints, per size: insert throughput, brute-force KNN (k=10) latency for float32, int8 and bit,
IVF latency at recall@10 >= 0.95, the ratios, and the memory-bandwidth floor of a full scan.
"""
import argparse, os, sqlite3, statistics, sys, threading, time
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--lib", required=True, help="libLecternVec without .so")
p.add_argument("--vec0", required=True, help="sqlite-vec's vec0 without .so")
p.add_argument("--sizes", default="100000,1000000")
p.add_argument("--dim", type=int, default=384)
p.add_argument("--queries", type=int, default=20)
p.add_argument("--k", type=int, default=10)
p.add_argument("--data", default=os.path.expanduser("~/.cache/lectern/bench-vec"))
p.add_argument("--ivf-min", type=int, default=500000, help="run IVF from this size up")
p.add_argument("--kinds", default="float32,int8,bit")
p.add_argument("--noise", type=float, default=1.0,
               help="cluster spread relative to the centres' scale (1.0: neighbours straddle clusters, as embeddings do)")
args = p.parse_args()
os.makedirs(args.data, exist_ok=True)
D, K = args.dim, args.k


def dataset(n):
    """Clustered Gaussian data (embeddings cluster; uniform noise would make any IVF look bad), cached."""
    path = f"{args.data}/data-{n}-{D}-noise{args.noise}.npy"
    if os.path.exists(path):
        x = np.load(path, mmap_mode="r")
    else:
        rng = np.random.default_rng(42)
        centers = rng.normal(0, 1, (max(16, n // 500), D)).astype(np.float32)
        x = np.empty((n + args.queries, D), dtype=np.float32)
        for s in range(0, n + args.queries, 100000):
            e = min(s + 100000, n + args.queries)
            x[s:e] = centers[rng.integers(0, len(centers), e - s)] + rng.normal(0, args.noise, (e - s, D)).astype(np.float32)
        np.save(path, x)
    return np.ascontiguousarray(x[:n]), np.ascontiguousarray(x[n:n + args.queries])


def connect(path, ext):
    db = sqlite3.connect(path, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(ext)
    db.execute("PRAGMA cache_size = -8000000")  # 8 GB page cache: both engines read from RAM after warm-up
    return db


def file_size(path):
    """Bytes on disk: the database and whatever is left in its WAL."""
    return sum(os.path.getsize(path + s) for s in ("", "-wal") if os.path.exists(path + s))


def bandwidth():
    """Streaming read bandwidth, both cores (numpy releases the GIL in reductions)."""
    a = np.ones(256 * 1024 * 1024 // 4, dtype=np.float32)  # 256 MiB per thread
    b = np.ones_like(a)
    def one(x):
        for _ in range(3):
            x.sum()
    best1 = best2 = 0
    for _ in range(3):
        t0 = time.perf_counter(); one(a); dt = time.perf_counter() - t0
        best1 = max(best1, 3 * a.nbytes / dt)
        ts = [threading.Thread(target=one, args=(x,)) for x in (a, b)]
        t0 = time.perf_counter(); [t.start() for t in ts]; [t.join() for t in ts]; dt = time.perf_counter() - t0
        best2 = max(best2, 6 * a.nbytes / dt)
    return best1, best2


bw1, bw2 = bandwidth()
print(f"memory bandwidth (numpy streaming sum): 1 core {bw1/1e9:.1f} GB/s, 2 cores {bw2/1e9:.1f} GB/s")
for n in [int(s) for s in args.sizes.split(",")]:
    x, qs = dataset(n)
    qblobs = [q.tobytes() for q in qs]
    print(f"\n== {n} x {D} float32, k = {K}, {len(qs)} queries, file databases ==")
    floor_ms = n * D * 4 / bw2 * 1000
    out = {}
    sizes = {}
    for kind, coltype, conv in [
        ("float32", f"float[{D}]", lambda v: v.tobytes()),
        ("int8", f"int8[{D}]", lambda v: np.clip(np.round(v * 127 / 4), -128, 127).astype(np.int8).tobytes()),
        ("bit", f"bit[{D}]", lambda v: np.packbits(v > 0, bitorder="little").tobytes()),
    ]:
        if kind not in args.kinds.split(","):
            continue
        wrap = {"float32": "?", "int8": "vec_int8(?)", "bit": "vec_bit(?)"}[kind]
        qconv = [conv(q) for q in qs]
        res = {}
        nlist = int(round(np.sqrt(n)))
        for name, ext, module in [("sqlite-vec", args.vec0, "vec0"), ("lectern", args.lib, "lectern_vec")]:
            path = f"{args.data}/{name}-{kind}-{n}.db"
            rows = ((i + 1, conv(v)) for i, v in enumerate(x))
            for s in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(path + s):
                    os.remove(path + s)
            db = connect(path, ext)
            # Lectern's float32 table is declared with its IVF index (untrained = exact search,
            # same insert path), so the IVF run below trains this very table.
            ivf = f" indexed by ivf(nlist={nlist}, nprobe=8)" if module == "lectern_vec" and kind == "float32" else ""
            db.execute(f"CREATE VIRTUAL TABLE t USING {module}(v {coltype}{ivf})")
            t0 = time.perf_counter()
            db.execute("BEGIN")
            db.executemany(f"INSERT INTO t(rowid, v) VALUES (?, {wrap})", rows)
            db.execute("COMMIT")
            dt = time.perf_counter() - t0
            db.close()
            size = file_size(path)
            db = connect(path, ext)
            sql = f"SELECT rowid, distance FROM t WHERE v MATCH {wrap} AND k = {K}"
            db.execute(sql, (qconv[0],)).fetchall()
            times, results = [], []
            for q in qconv:
                t0 = time.perf_counter()
                r = db.execute(sql, (q,)).fetchall()
                times.append(time.perf_counter() - t0)
                results.append([a for a, _ in r])
            ms = statistics.median(times) * 1000
            res[name] = (n / dt, ms, results, size)
            db.close()
            if kind != "float32" or n < args.ivf_min:
                os.remove(path)
        sv, lv = res["sqlite-vec"], res["lectern"]
        agree = sum(len(set(a) & set(b)) for a, b in zip(sv[2], lv[2])) / (K * len(qs))
        out[kind] = sv[1]
        sizes[kind] = (sv[3], lv[3])
        scanned = n * {"float32": D * 4, "int8": D, "bit": D // 8}[kind]
        print(f"{kind:8s} insert: sqlite-vec {sv[0]:9.0f} rows/s, lectern {lv[0]:9.0f} rows/s (ratio {lv[0]/sv[0]:.2f}x)")
        print(f"{kind:8s} KNN   : sqlite-vec {sv[1]:8.2f} ms, lectern {lv[1]:8.2f} ms, latency ratio lectern/sqlite-vec = {lv[1]/sv[1]:.3f}"
              f"  (floor {scanned / bw2 * 1000:.2f} ms = {scanned/1e6:.0f} MB / {bw2/1e9:.1f} GB/s; same top-{K}: {agree:.3f})")
        print(f"{kind:8s} file  : sqlite-vec {sv[3]/1e6:8.1f} MB, lectern {lv[3]/1e6:8.1f} MB (ratio {lv[3]/sv[3]:.2f}; vectors alone {scanned/1e6:.1f} MB)")

    if n >= args.ivf_min:
        path = f"{args.data}/lectern-float32-{n}.db"
        db = connect(path, args.lib)
        t0 = time.perf_counter()
        db.execute("BEGIN"); db.execute("INSERT INTO t(t) VALUES ('compute-centroids')"); db.execute("COMMIT")
        train = time.perf_counter() - t0
        db.close()
        trained_size = file_size(path)
        untrained, vec0_size = sizes["float32"][1], sizes["float32"][0]
        print(f"IVF file : {trained_size/1e6:.1f} MB once trained = {trained_size/untrained:.2f}x the untrained table, "
              f"{trained_size/vec0_size:.2f}x sqlite-vec's (the lists are the table's chunks: each vector stored once)")
        db = connect(path, args.lib)
        exact = [[r[0] for r in db.execute(f"SELECT rowid FROM t WHERE v MATCH ? AND k = {K} AND nprobe = 0", (q,))] for q in qblobs]
        print(f"IVF      : nlist={nlist}, compute-centroids {train:.1f} s")
        chosen = None
        for nprobe in [1, 2, 4, 8, 16, 32, 64, 128]:
            sql = f"SELECT rowid FROM t WHERE v MATCH ? AND k = {K} AND nprobe = {nprobe}"
            # Two passes over the queries: the first reads the probed lists from the file (cold),
            # the second from the connection's chunk cache (warm, like the brute-force figures).
            for cold in (True, False):
                times, rec = [], 0
                for q, e in zip(qblobs, exact):
                    t0 = time.perf_counter()
                    r = [a[0] for a in db.execute(sql, (q,))]
                    times.append(time.perf_counter() - t0)
                    rec += len(set(r) & set(e))
                if cold:
                    cold_ms = statistics.median(times) * 1000
            recall = rec / (K * len(qblobs))
            ms = statistics.median(times) * 1000
            print(f"IVF      : nprobe={nprobe:3d} recall@{K}={recall:.3f} warm {ms:7.2f} ms (cold {cold_ms:7.2f} ms), "
                  f"speed-up vs sqlite-vec brute force {out['float32']/ms:6.1f}x warm, {out['float32']/cold_ms:6.1f}x cold")
            if recall >= 0.95:
                chosen = (nprobe, recall, ms)
                break
        if chosen:
            print(f"IVF result: recall@{K} {chosen[1]:.3f} at nprobe={chosen[0]}: {chosen[2]:.2f} ms = {out['float32']/chosen[2]:.1f}x faster than sqlite-vec brute force")
        db.close()
        # Churn, side by side: delete every other row and insert as many again (the same vectors
        # under new rowids), in two transactions; file size after a checkpoint. Lectern's table is
        # the trained IVF one (inserts go to their nearest list, filling emptied slots first).
        churned = {}
        for name, p, ext in [("sqlite-vec", f"{args.data}/sqlite-vec-float32-{n}.db", args.vec0), ("lectern", path, args.lib)]:
            db = connect(p, ext)
            t0 = time.perf_counter()
            db.execute("BEGIN")
            db.executemany("DELETE FROM t WHERE rowid = ?", ((i + 1,) for i in range(0, n, 2)))
            db.execute("COMMIT")
            db.execute("BEGIN")
            db.executemany("INSERT INTO t(rowid, v) VALUES (?, ?)", ((n + i + 1, x[i].tobytes()) for i in range(0, n, 2)))
            db.execute("COMMIT")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            dt = time.perf_counter() - t0
            db.close()
            churned[name] = (file_size(p), dt)
        (sv_before, lv_before), lv_trained = sizes["float32"], trained_size
        print(f"churn    : deleting half and inserting as many: sqlite-vec {sv_before/1e6:.1f} -> {churned['sqlite-vec'][0]/1e6:.1f} MB "
              f"({churned['sqlite-vec'][0]/sv_before:.2f}x, {churned['sqlite-vec'][1]:.1f} s), lectern IVF {lv_trained/1e6:.1f} -> "
              f"{churned['lectern'][0]/1e6:.1f} MB ({churned['lectern'][0]/lv_trained:.2f}x, {churned['lectern'][1]:.1f} s); "
              f"lectern / sqlite-vec after churn {churned['lectern'][0]/churned['sqlite-vec'][0]:.2f}")
        os.remove(path)
