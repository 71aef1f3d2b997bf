"""A fake Lambda Runtime API server for the runtime tests, benchmarks and smoke runs.

Real sockets, one thread per connection, HTTP/1.1 keep-alive. Events are queued by the caller and
handed to GET /next as the agent would (with the headers PROTOCOLS.md §1 lists); every POST is
recorded. Run as a program it serves a number of events and prints what came back:

    python3 fake_api.py --port 9001 --events 3 [--event '{"k": 1}'] [--bench]

--bench answers every /next at once with a fresh event and prints the round trip per invocation
(from the /next answer's first byte written to the /response fully read) as median and p99.
"""

import argparse
import json
import queue
import socket
import threading
import time
import uuid

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fake"


class Post:
    """One POST the runtime made: path, lowercase headers, body, and whatever the test's
    on_post hook returned when it arrived."""

    def __init__(self, path, headers, body, seen=None):
        self.path, self.headers, self.body, self.seen = path, headers, body, seen

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Post({self.path!r}, {self.headers!r}, {self.body[:200]!r})"


class FakeRuntimeAPI:
    def __init__(self, port=0, on_post=None, auto_event=None):
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.events = queue.Queue()
        self.posts = queue.Queue()
        self.on_post = on_post
        self.auto_event = auto_event  # bench mode: (headers, body) answered to every /next
        self.round_trips = []  # ns, bench mode
        self.closed = False
        self.connections = []
        threading.Thread(target=self._accept, daemon=True).start()

    def add_event(self, body=b"{}", content_type="application/json", request_id=None,
                  deadline_ms=None, headers=None, chunked=False, close=False):
        """Queues an event for the next GET /next; returns its request id. With close=True the
        server closes the connection right after sending it, as an idle timeout would."""
        request_id = request_id or str(uuid.uuid4())
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        h = {"Lambda-Runtime-Aws-Request-Id": request_id,
             "Lambda-Runtime-Deadline-Ms": str(deadline_ms if deadline_ms is not None
                                               else int(time.time() * 1000) + 30000),
             "Lambda-Runtime-Invoked-Function-Arn": ARN}
        if content_type is not None:
            h["Content-Type"] = content_type
        h.update(headers or {})
        self.events.put((h, body, chunked, close))
        return request_id

    def wait_post(self, timeout=10):
        return self.posts.get(timeout=timeout)

    def close(self):
        self.closed = True
        self.listener.close()
        for conn in self.connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    # -- the server side ---------------------------------------------------------------------

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        reader = conn.makefile("rb")
        sent_at = 0
        try:
            while True:
                line = reader.readline()
                if not line:
                    return
                method, path, _ = line.decode().split(" ", 2)
                headers = {}
                while (line := reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = reader.read(int(headers.get("content-length", 0)))
                if method == "GET" and path.endswith("/runtime/invocation/next"):
                    h, event, chunked, close = (self.auto_event + (False, False) if self.auto_event
                                                else self._next_event())
                    if h is None:
                        return
                    if self.auto_event:
                        h = dict(h, **{"Lambda-Runtime-Aws-Request-Id": str(uuid.uuid4())})
                    sent_at = time.perf_counter_ns()
                    self._answer(conn, 200, event, h, chunked)
                    if close:
                        return
                elif method == "POST":
                    if self.auto_event:
                        self.round_trips.append(time.perf_counter_ns() - sent_at)
                    seen = self.on_post(path) if self.on_post else None
                    self.posts.put(Post(path, headers, body, seen))
                    self._answer(conn, 202, b'{"status":"OK"}', {"Content-Type": "application/json"})
                else:
                    self._answer(conn, 404, b'{"errorMessage":"no route","errorType":"NotFound"}', {})
        except (OSError, ValueError):
            return
        finally:
            conn.close()

    def _next_event(self):
        while not self.closed:
            try:
                return self.events.get(timeout=0.2)
            except queue.Empty:
                pass
        return None, None, False, False

    @staticmethod
    def _answer(conn, status, body, headers, chunked=False):
        head = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Accepted'}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if chunked:
            # Two chunks and an (empty) trailer section, as response streaming would.
            head.append("Transfer-Encoding: chunked")
            half = len(body) // 2
            payload = b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                               for part in (body[:half], body[half:]) if part) + b"0\r\n\r\n"
        else:
            head.append(f"Content-Length: {len(body)}")
            payload = body
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + payload)


def _percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument("--events", type=int, default=1)
    parser.add_argument("--event", default='{"hello": "cella"}')
    parser.add_argument("--content-type", default="application/json")
    parser.add_argument("--bench", action="store_true")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    event = args.event.encode()
    if args.bench:
        headers = {"Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 3600_000),
                   "Lambda-Runtime-Invoked-Function-Arn": ARN,
                   "Content-Type": args.content_type}
        server = FakeRuntimeAPI(args.port, auto_event=(headers, event))
        deadline = time.time() + args.timeout
        while len(server.round_trips) < args.events and time.time() < deadline:
            time.sleep(0.05)
        # The first invocations warm up caches and the allocator: leave out the first 5%.
        rtts = sorted(server.round_trips[args.events // 20:args.events])
        if len(server.round_trips) < args.events:
            print(f"only {len(server.round_trips)} of {args.events} invocations within "
                  f"{args.timeout:g} s: the runtime stopped (its stderr says why)", flush=True)
            return
        print(f"invocations {len(rtts)}  median {_percentile(rtts, 0.5) / 1000:.1f} µs  "
              f"p99 {_percentile(rtts, 0.99) / 1000:.1f} µs", flush=True)
        return
    server = FakeRuntimeAPI(args.port)
    print(f"fake Runtime API on {server.address}", flush=True)
    for _ in range(args.events):
        server.add_event(event, content_type=args.content_type or None)
    for _ in range(args.events):
        try:
            post = server.wait_post(timeout=args.timeout)
        except queue.Empty:
            print("timed out waiting for the runtime", flush=True)
            raise SystemExit(1)
        headers = " ".join(f"{k}={v}" for k, v in post.headers.items()
                           if k not in ("host", "content-length"))
        print(f"POST {post.path} [{headers}] {post.body.decode(errors='replace')}", flush=True)
        if post.path.endswith("/init/error"):
            raise SystemExit(2)


if __name__ == "__main__":
    main()
