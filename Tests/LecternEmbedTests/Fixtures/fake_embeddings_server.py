#!/usr/bin/env python3
"""A fault-injecting stand-in for an OpenAI-compatible /v1/embeddings server (tests only).

Usage: fake_embeddings_server.py PORT_FILE SCENARIO
Writes the port it listens on to PORT_FILE. Vectors are a function of the text
([len(text), sum of code points mod 1000, 1.0]) so ordering mistakes are visible; the data
list is returned in REVERSE index order. Scenarios:
  flaky    : request 1 -> 429 with Retry-After: 1; request 2 -> 503; then all succeed
  always500: every request -> 500
  bad400   : every request -> 400
GET /stats returns counts, the max number of requests in flight, the Authorization headers seen.
"""
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, scenario = sys.argv[1], sys.argv[2]
lock = threading.Lock()
stats = {"requests": 0, "in_flight": 0, "max_in_flight": 0, "auth": [], "times": []}

def vec(t):
    return [float(len(t)), float(sum(map(ord, t)) % 1000), 1.0]

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, code, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers: self.send_header(k, v)
        self.end_headers(); self.wfile.write(data)
    def do_GET(self):
        with lock: self.send(200, stats)
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with lock:
            stats["requests"] += 1; n = stats["requests"]
            stats["in_flight"] += 1; stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
            stats["auth"].append(self.headers.get("Authorization")); stats["times"].append(time.time())
        try:
            time.sleep(0.05)
            if scenario == "flaky" and n == 1: return self.send(429, {"error": "slow down"}, [("Retry-After", "1")])
            if scenario == "flaky" and n == 2: return self.send(503, {"error": "busy"})
            if scenario == "always500": return self.send(500, {"error": "broken"})
            if scenario == "bad400": return self.send(400, {"error": "model not found"})
            data = [{"object": "embedding", "index": i, "embedding": vec(t)} for i, t in enumerate(body["input"])]
            self.send(200, {"object": "list", "model": body["model"], "data": list(reversed(data))})
        finally:
            with lock: stats["in_flight"] -= 1

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
open(port_file + ".tmp", "w").write(str(srv.server_address[1]))
import os; os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
