"""Driver for scripts/bench/prepared.sh: cold starts of a one-shot `provided` function on an agent
that makes no sandbox ahead (--prepared-sandboxes 0) and on one that holds the next sandbox before
its runtime's exec, alternating, with the order rotating each round."""

import argparse
import http.client
import json
import statistics
import time
import urllib.parse


class Agent:
    def __init__(self, name, url):
        self.name = name
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def stats(self):
        status, _, body = self.request("GET", "/v1/stats")
        if status != 200:
            raise SystemExit(f"{self.name}: stats: {status} {body[:200]!r}")
        return json.loads(body)

    def wait_until(self, what, check, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if check(stats):
                return stats
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name}: timed out waiting for {what}: {json.dumps(stats)[:400]}")
            time.sleep(0.005)


def no_instances(stats):
    return all(f["idle"] == 0 and f["busy"] == 0 and f["starting"] == 0 for f in stats["functions"])


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scratch", required=True)
    ap.add_argument("--prepared", required=True)
    ap.add_argument("--digest", required=True)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args()

    agents = [Agent("from scratch", args.scratch), Agent("prepared sandbox", args.prepared)]
    deploy = json.dumps({"config": {"name": "oneshot", "runtime": "provided", "handler": "oneshot",
                                    "memoryMB": 128}, "bundleDigest": args.digest})
    path = "/v1/functions/bench/oneshot/1"
    for agent in agents:
        status, _, body = agent.request("PUT", path, deploy, {"Content-Type": "application/json"})
        if status != 200:
            raise SystemExit(f"{agent.name}: deploy: {status} {body[:300]!r}")

    series = {a.name: [] for a in agents}
    inits = {a.name: [] for a in agents}
    for i in range(args.warmup + args.iterations):
        order = agents if i % 2 == 0 else agents[::-1]
        for agent in order:
            # The last instance (one-shot) has exited; on the preparing agent the next is held.
            if agent is agents[1] and i > 0:
                agent.wait_until("a held sandbox", lambda s: no_instances(s) and s["preparedSandboxes"] >= 1)
            else:
                agent.wait_until("no instance", no_instances)
            t0 = time.perf_counter()
            status, headers, body = agent.request("POST", path + "/invoke", b'{"round": %d}' % i,
                                                  {"Content-Type": "application/json"})
            ms = (time.perf_counter() - t0) * 1e3
            if status != 200 or headers.get("X-Cella-Start") != "cold" or headers.get("X-Cella-Outcome") != "success":
                raise SystemExit(f"{agent.name}: invoke {i}: {status} start={headers.get('X-Cella-Start')} "
                                 f"outcome={headers.get('X-Cella-Outcome')} {body[:300]!r}")
            if i >= args.warmup:
                series[agent.name].append(ms)
                inits[agent.name].append(float(headers.get("X-Cella-Init-Duration-Ms", "nan")))
    used = agents[1].stats()["preparedSandboxesUsed"]
    used_scratch = agents[0].stats()["preparedSandboxesUsed"]

    print(f"\n| cold start of a one-shot `provided` function, {args.iterations} rounds | median ms | p99 ms | runtime init median ms |")
    print("|---|---|---|---|")
    for agent in agents:
        s = series[agent.name]
        print(f"| {agent.name} | {statistics.median(s):.2f} | {pct(s, 99):.2f} | {statistics.median(inits[agent.name]):.2f} |")
    a, b = (statistics.median(series[x.name]) for x in agents)
    print(f"\nprepared sandboxes taken: {used} of {args.warmup + args.iterations} cold starts "
          f"(the other agent: {used_scratch}); median saved {a - b:.2f} ms, from scratch / prepared {a / b:.2f}x")


if __name__ == "__main__":
    main()
