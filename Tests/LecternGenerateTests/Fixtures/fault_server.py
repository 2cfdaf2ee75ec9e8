#!/usr/bin/env python3
"""A misbehaving OpenAI-compatible chat server for Lectern's fault-injection tests (stdlib only).

Usage: fault_server.py [PORT]   (0 or absent: a free port). Prints "PORT <n>" on stdout once listening.

Behaviour of each POST /v1/chat/completions is taken from a plan (a list consumed in order, then
"ok" forever), set with POST /control {"plan": [...]}:
  ok            a valid completion: a JSON list of question/answer pairs about the prompt
  429:N         HTTP 429 with Retry-After: N
  500, 503      that status
  sleep:S       wait S seconds, then ok (client timeouts)
  garbage       HTTP 200 with a non-JSON body
  truncated     a valid completion whose content is a JSON list cut inside its last item
  fenced        content as ```json ... ``` with prose around it
  drop          headers promising 4000 bytes, part of the body, then the connection closed
  close         connection closed without any response
  prose         content with no JSON at all
Independent of the plan, a prompt containing [[fail]] always gets HTTP 500 and one containing
[[nojson]] always gets "prose". GET /stats returns counters and what the last request carried.
"""
import json, sys, threading, time, hashlib
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

lock = threading.Lock()
state = {"plan": [], "requests": 0, "by_behaviour": {}, "last_auth": None, "last_body": None,
         "max_concurrent": 0, "concurrent": 0, "marker_requests": {}}


def pairs_for(prompt):
    h = hashlib.sha256(prompt.encode()).hexdigest()[:8]
    words = prompt.split()[:6]
    return [
        {"question": f"What is the main finding of passage {h}?", "answer": "It reports " + " ".join(words) + "."},
        {"question": f"Why does passage {h} matter?", "answer": "Because it informs practice."},
        {"question": f"WHAT IS THE MAIN FINDING OF PASSAGE {h}?", "answer": "A duplicate in other case."},
    ]


def completion(content, prompt_tokens=50, completion_tokens=40):
    return json.dumps({
        "id": "chatcmpl-test", "object": "chat.completion", "model": "fault-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/stats":
            with lock:
                body = json.dumps({k: v for k, v in state.items() if k != "plan"} | {"plan_left": len(state["plan"])})
            self.send(200, body.encode())
        else:
            self.send(404, b'{"error": "not found"}')

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path == "/control":
            req = json.loads(raw)
            with lock:
                state["plan"] = list(req.get("plan", []))
                if req.get("reset"):
                    state.update(requests=0, by_behaviour={}, max_concurrent=0, marker_requests={})
            self.send(200, b"{}")
            return
        if not self.path.endswith("/chat/completions"):
            self.send(404, b'{"error": "not found"}')
            return
        req = json.loads(raw)
        prompt = "\n".join(m.get("content", "") for m in req.get("messages", []))
        with lock:
            state["requests"] += 1
            state["last_auth"] = self.headers.get("Authorization")
            state["last_body"] = req
            state["concurrent"] += 1
            state["max_concurrent"] = max(state["max_concurrent"], state["concurrent"])
            if "[[fail]]" in prompt:
                b = "500"
            elif "[[nojson]]" in prompt:
                b = "prose"
            else:
                b = state["plan"].pop(0) if state["plan"] else "ok"
            state["by_behaviour"][b] = state["by_behaviour"].get(b, 0) + 1
            tag = prompt.split("]]")[0].split("[[")[-1] if "[[" in prompt else None
            if tag:
                state["marker_requests"][tag] = state["marker_requests"].get(tag, 0) + 1
        try:
            self.behave(b, prompt)
        finally:
            with lock:
                state["concurrent"] -= 1

    def behave(self, b, prompt):
        name, _, arg = b.partition(":")
        if name == "ok":
            self.send(200, completion(json.dumps(pairs_for(prompt))))
        elif name == "429":
            self.send(429, b'{"error": {"message": "rate limited"}}', [("Retry-After", arg or "1")])
        elif name in ("500", "503", "400"):
            self.send(int(name), b'{"error": {"message": "injected failure"}}')
        elif name == "sleep":
            time.sleep(float(arg))
            self.send(200, completion(json.dumps(pairs_for(prompt))))
        elif name == "garbage":
            self.send(200, b"<html><body>502 Bad Gateway</body></html>", [("Content-Type", "text/html")])
        elif name == "truncated":
            content = json.dumps(pairs_for(prompt)[:2])
            self.send(200, completion(content[: len(content) - 12], completion_tokens=64))
        elif name == "fenced":
            content = "Sure! Here are the pairs:\n```json\n" + json.dumps(pairs_for(prompt)[:2]) + "\n```\nHope this helps."
            self.send(200, completion(content))
        elif name == "prose":
            self.send(200, completion("I am sorry, I cannot answer questions about this passage."))
        elif name == "drop":
            body = completion(json.dumps(pairs_for(prompt)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) + 4000))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
        elif name == "close":
            self.close_connection = True
            self.connection.shutdown(2)
        else:
            self.send(500, json.dumps({"error": f"unknown behaviour {b}"}).encode())


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"PORT {srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
