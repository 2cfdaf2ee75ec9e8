#!/usr/bin/env python3
"""The reference for benchmarks/generate: a minimal direct client. Replays request bodies (one JSON
per line) against an OpenAI-compatible server with C threads, one keep-alive connection each,
and prints one JSON line: requests, completion_tokens, seconds, tokens_per_s."""
import http.client, json, sys, threading, time, urllib.parse

url, bodies_path, conc = sys.argv[1], sys.argv[2], int(sys.argv[3])
bodies = [line for line in open(bodies_path, encoding="utf-8") if line.strip()]
u = urllib.parse.urlparse(url)
lock = threading.Lock()
next_i = 0
tokens = 0
failed = 0


def worker():
    global next_i, tokens, failed
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    while True:
        with lock:
            if next_i >= len(bodies):
                break
            body = bodies[next_i]
            next_i += 1
        conn.request("POST", u.path.rstrip("/") + "/chat/completions", body=body.encode(),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        with lock:
            if r.status == 200:
                tokens += json.loads(data)["usage"]["completion_tokens"]
            else:
                failed += 1


t0 = time.perf_counter()
threads = [threading.Thread(target=worker) for _ in range(conc)]
for t in threads:
    t.start()
for t in threads:
    t.join()
s = time.perf_counter() - t0
print(json.dumps({"requests": len(bodies), "failed": failed, "completion_tokens": tokens,
                  "seconds": round(s, 3), "tokens_per_s": round(tokens / s, 2)}))
