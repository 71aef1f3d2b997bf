"""The agent benchmark's driver (scripts/bench/agent.sh runs it; standard library only).

    serve --port P --code DIR [--workers N]
        The direct-call peer: a keep-alive HTTP/1.1 server on raw sockets (TCP_NODELAY, as the
        runtime client) that calls the handler in-process and answers its JSON. N processes, each
        with its own SO_REUSEPORT socket and an epoll loop, so connections spread over them.

    run --agent URL --direct URL --agent-pid PID ...
        Every measurement, peers side by side, then one summary table. Needs its own mount
        namespace (agent.sh starts it under `unshare -m`): it bind-mounts the function's code on
        the rootfs's /var/task there for the chroot peers.
"""

import argparse
import http.client
import importlib
import json
import math
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

# -- the direct-call peer ----------------------------------------------------------------------


def load_handler(code, spec):
    modname, fname = spec.rsplit(".", 1)
    sys.path.insert(0, code)
    return getattr(importlib.import_module(modname), fname)


def serve_worker(lsock, handler):
    sel = selectors.DefaultSelector()
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, None)
    loads, dumps = json.loads, json.dumps
    while True:
        for key, _ in sel.select():
            if key.data is None:
                try:
                    conn, _ = lsock.accept()
                except BlockingIOError:
                    continue
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sel.register(conn, selectors.EVENT_READ, bytearray())
                continue
            conn, buf = key.fileobj, key.data
            try:
                chunk = conn.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                sel.unregister(conn)
                conn.close()
                continue
            buf += chunk
            out, close = [], False
            while (end := buf.find(b"\r\n\r\n")) >= 0:
                head = bytes(buf[:end]).lower()
                m = re.search(rb"\r\ncontent-length:\s*(\d+)", head)
                length = int(m.group(1)) if m else 0
                if len(buf) < end + 4 + length:
                    break
                body = bytes(buf[end + 4:end + 4 + length])
                del buf[:end + 4 + length]
                close = close or b"\r\nconnection: close" in head
                payload = dumps(handler(loads(body) if body else None, None)).encode()
                out.append(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload))
            if out:
                try:
                    conn.sendall(b"".join(out))
                except OSError:
                    close = True
            if close:
                sel.unregister(conn)
                conn.close()


def cmd_serve(args):
    handler = load_handler(args.code, args.handler)
    socks = []
    for _ in range(args.workers):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("127.0.0.1", args.port))
        s.listen(128)
        socks.append(s)
    pids = []
    for s in socks:
        pid = os.fork()
        if pid == 0:
            try:
                serve_worker(s, handler)
            finally:
                os._exit(0)
        pids.append(pid)
    for s in socks:
        s.close()

    def stop(signum, frame):
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for pid in pids:
        os.waitpid(pid, 0)


# -- measurement helpers -----------------------------------------------------------------------

def pct(samples, p):
    """Nearest-rank percentile."""
    s = sorted(samples)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def proc_cpu(pid):
    """CPU seconds (user + system) of one process, 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


class CPU:
    """CPU seconds spent by the load generator, the agent, its instances and the direct peer."""

    def __init__(self, args):
        self.agent_pid = args.agent_pid
        self.root = args.cgroup_root
        self.direct_pids = children(args.direct_pid) if args.direct_pid else []
        self.cpuacct = None
        for base in ("/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct"):
            path = f"{base}/{args.cgroup_root}/cpuacct.usage"
            if os.path.exists(path):
                self.cpuacct = path
        if self.cpuacct is None and os.path.exists(f"/sys/fs/cgroup/{args.cgroup_root}/cpu.stat"):
            self.cpuacct = f"/sys/fs/cgroup/{args.cgroup_root}/cpu.stat"

    def instances(self):
        if self.cpuacct is None:
            return 0.0
        with open(self.cpuacct) as f:
            text = f.read()
        if self.cpuacct.endswith("cpu.stat"):
            return int(re.search(r"usage_usec (\d+)", text).group(1)) / 1e6
        return int(text) / 1e9

    def switches(self):
        """The agent's context switches, all threads, voluntary and not."""
        total = 0
        for tid in os.listdir(f"/proc/{self.agent_pid}/task"):
            try:
                with open(f"/proc/{self.agent_pid}/task/{tid}/status") as f:
                    total += sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
            except OSError:
                pass
        return total

    def throttled(self):
        """CFS periods in which an instance hit its CPU quota (live instances only)."""
        total = 0
        for base in (f"/sys/fs/cgroup/cpu/{self.root}", f"/sys/fs/cgroup/cpu,cpuacct/{self.root}",
                     f"/sys/fs/cgroup/{self.root}"):
            if not os.path.isdir(base):
                continue
            for d in os.listdir(base):
                try:
                    with open(f"{base}/{d}/cpu.stat") as f:
                        total += sum(int(line.split()[1]) for line in f if line.startswith("nr_throttled"))
                except OSError:
                    pass
            break
        return total

    def snapshot(self):
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"client": ru.ru_utime + ru.ru_stime, "agent": proc_cpu(self.agent_pid),
                "instances": self.instances(),
                "direct": sum(proc_cpu(p) for p in self.direct_pids),
                "switches": self.switches(), "throttled": self.throttled()}

    @staticmethod
    def delta(a, b):
        return {k: b[k] - a[k] for k in a}


UNITS = {"us": 1.0, "ms": 1e3, "s": 1e6}


def run_wrk(url, conns, seconds, lua):
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", lua, url],
                         capture_output=True, text=True, check=True).stdout
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+(?:us|ms|s))\s*$", out, re.M))

    def us(v):
        num, unit = re.match(r"([\d.]+)(us|ms|s)", v).groups()
        return float(num) * UNITS[unit]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"tool": "wrk", "p50": us(lat["50"]), "p99": us(lat["99"]),
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "n": total,
            "bad": (int(bad.group(1)) if bad else 0), "errors": errs.group(1) if errs else ""}


def run_hey(url, conns, n=None, seconds=None):
    cmd = ["hey", "-c", str(conns), "-m", "POST", "-T", "application/json", "-d", "{}"]
    cmd += ["-z", f"{seconds}s"] if seconds else ["-n", str(n)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    lat = dict(re.findall(r"^\s+(50|99)% in ([\d.]+) secs", out, re.M))
    codes = dict((int(c), int(k)) for c, k in re.findall(r"\[(\d+)\]\s+(\d+) responses", out))
    return {"tool": "hey", "p50": float(lat["50"]) * 1e6, "p99": float(lat["99"]) * 1e6,
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "n": sum(codes.values()), "bad": sum(k for c, k in codes.items() if c != 200),
            "errors": "yes" if "Error distribution" in out else ""}


def measured(cpu, fn, *a, **kw):
    before = cpu.snapshot()
    r = fn(*a, **kw)
    r["cpu"] = CPU.delta(before, cpu.snapshot())
    return r


def cpu_note(r):
    """CPU µs per request of the client, the agent, the instances and the direct peer."""
    c, n = r["cpu"], max(r["n"], 1)
    parts = [f"{k} {c[k] / n * 1e6:.0f}" for k in ("client", "agent", "instances", "direct") if c[k] > 0]
    note = "CPU µs/req: " + ", ".join(parts)
    if c["agent"] > c["direct"]:
        note += f"; agent ctx switches/req {c['switches'] / n:.1f}"
    return note + (f"; instance CPU quota throttled in {c['throttled']} periods" if c["throttled"] else "")


def show(label, r):
    flag = f"  !! {r['bad']} non-200" if r["bad"] else ""
    flag += f"  !! errors: {r['errors']}" if r["errors"] and not r["errors"].startswith("connect 0, read 0, write 0, timeout 0") else ""
    print(f"  {label:<34} {r['tool']}: p50 {r['p50']:8.1f} µs  p99 {r['p99']:8.1f} µs  "
          f"{r['rps']:9.1f} req/s  ({r['n']} req; {cpu_note(r)}){flag}", flush=True)


class Agent:
    """One kept-alive connection to the agent's API."""

    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port)

    def request(self, method, path, body=None, headers=None):
        self.conn.request(method, path, body=body, headers=headers or {})
        r = self.conn.getresponse()
        return r.status, r.headers, r.read()

    def stats(self, key):
        status, _, body = self.request("GET", "/v1/stats")
        text = body.decode()
        try:
            for f in json.loads(text).get("functions", []):
                if f.get("function", f.get("key")) == key:
                    return {k: v for k, v in f.items() if k not in ("function", "key")}
        except (ValueError, AttributeError):
            pass
        return text[:300]


# -- cold start ----------------------------------------------------------------------------------

RUNC = shutil.which("runc")
PY_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
HANDLER = 'import sys; sys.path.insert(0, "/var/task"); import app; app.handler({}, None)'
# The modules Cella's runtime client imports before it imports the handler (cella_runtime.py).
RUNTIME_IMPORTS = "import _signal, _socket, json, os, time, importlib; " + HANDLER


def make_runc_bundle(rootfs, code, where):
    subprocess.run([RUNC, "spec", "--bundle", where], check=True)
    path = os.path.join(where, "config.json")
    with open(path) as f:
        config = json.load(f)
    config["root"] = {"path": rootfs, "readonly": True}
    proc = config["process"]
    proc["terminal"] = False
    proc["args"] = ["/usr/bin/python3.11", "-sB", "-c", HANDLER]
    proc["env"] = [f"{k}={v}" for k, v in PY_ENV.items()]
    proc["cwd"] = "/"
    config["mounts"].append({"destination": "/var/task", "type": "bind", "source": code,
                             "options": ["rbind", "ro"]})
    with open(path, "w") as f:
        json.dump(config, f, indent=2)


def timed_run(cmd):
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=PY_ENV).returncode
    ms = (time.perf_counter() - t0) * 1e3
    if rc != 0:
        raise SystemExit(f"{cmd[0]} exited {rc}: {' '.join(cmd)}")
    return ms


def cold_starts(args, api):
    if os.readlink("/proc/self/ns/mnt") == os.readlink(f"/proc/{os.getppid()}/ns/mnt"):
        raise SystemExit("run: start me in a mount namespace of my own (unshare -m)")
    code = os.path.abspath(args.code)
    subprocess.run(["mount", "--bind", "-o", "ro", code, os.path.join(args.rootfs, "var/task")], check=True)
    bundle = tempfile.mkdtemp(prefix="cella-bench-runc.")
    make_runc_bundle(args.rootfs, code, bundle)
    chroot = [shutil.which("chroot"), args.rootfs, "/usr/bin/python3.11", "-sB", "-c"]
    deploy = json.dumps({"config": {"name": "noop", "runtime": "python3.11", "handler": "app.handler",
                                    "memoryMB": 128}, "bundleDigest": args.digest})
    series = {"cella": [], "init": [], "runc": [], "python": [], "python+handler": [],
              "python+imports+handler": []}

    def cella(i):
        base = f"/v1/functions/bench/noop/c{i}"
        status, _, body = api.request("PUT", base, deploy, {"Content-Type": "application/json"})
        if status != 200:
            raise SystemExit(f"deploy c{i}: {status} {body[:200]!r}")
        t0 = time.perf_counter()
        status, headers, body = api.request("POST", base + "/invoke", b"{}", {"Content-Type": "application/json"})
        ms = (time.perf_counter() - t0) * 1e3
        if status != 200 or headers.get("X-Cella-Start") != "cold" or headers.get("X-Cella-Outcome") != "success":
            raise SystemExit(f"invoke c{i}: {status} start={headers.get('X-Cella-Start')} "
                             f"outcome={headers.get('X-Cella-Outcome')} {body[:300]!r}")
        series["cella"].append(ms)
        series["init"].append(float(headers.get("X-Cella-Init-Duration-Ms", "nan")))
        api.request("DELETE", base)

    def runc(i):
        cid = f"cella-bench-{os.getpid()}-{i}"
        try:
            series["runc"].append(timed_run([RUNC, "run", "--bundle", bundle, cid]))
        finally:
            subprocess.run([RUNC, "delete", "-f", cid], stderr=subprocess.DEVNULL)

    steps = [("cella", cella), ("runc", runc),
             ("python", lambda i: series["python"].append(timed_run(chroot + ["pass"]))),
             ("python+handler", lambda i: series["python+handler"].append(timed_run(chroot + [HANDLER]))),
             ("python+imports+handler",
              lambda i: series["python+imports+handler"].append(timed_run(chroot + [RUNTIME_IMPORTS])))]
    try:
        for i in range(1, args.iterations + 1):
            k = i % len(steps)
            for _, step in steps[k:] + steps[:k]:  # rotate the order, so no series always follows another
                step(i)
                time.sleep(args.settle)
            if i % 50 == 0:
                print(f"  ... {i}/{args.iterations}", flush=True)
    finally:
        subprocess.run(["rm", "-rf", bundle])
        subprocess.run(["umount", os.path.join(args.rootfs, "var/task")])
    return series


# -- the run -------------------------------------------------------------------------------------

def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cmd_run(args):
    load_before = loadavg()
    print(f"load before: {load_before}", flush=True)
    cpu = CPU(args)
    api = Agent(args.agent)
    v1 = f"{args.agent}/v1/functions/bench/noop/1/invoke"
    v2 = f"{args.agent}/v1/functions/bench/noop/2/invoke"
    direct = args.direct + "/"
    lua = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    lua.write('wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Content-Type"] = "application/json"\n')
    lua.close()
    d, n = args.duration, args.requests
    res = {}
    try:
        print(f"\n== warm invoke, 1 client (warm-up, then wrk -t1 -c1 -d{d}s and hey -c 1 -n {n}; agent and direct alternate)", flush=True)
        for url in (v1, direct):
            r = run_hey(url, 1, n=max(n // 10, 200))
            if r["bad"]:
                raise SystemExit(f"warm-up of {url}: {r['bad']} of {r['n']} answers were not 200")
        for tool in ("wrk", "hey"):
            for name, url in (("agent", v1), ("direct", direct)):
                r = measured(cpu, run_wrk, url, 1, d, lua.name) if tool == "wrk" else measured(cpu, run_hey, url, 1, n=n)
                res[f"1c/{name}/{tool}"] = r
                show(f"{name} ({'noop/1' if name == 'agent' else 'in-process'})", r)
        print(f"  instances of noop/1: {api.stats('bench/noop:1')}")

        print(f"\n== throughput, 16 clients (warm-up hey -c 16 -z 2s, then wrk -t1 -c16 -d{d}s and hey -c 16 -z {d}s)", flush=True)
        targets = (("agent c4", v2, "bench/noop:2"), ("agent unreserved", v1, "bench/noop:1"), ("direct", direct, None))
        for _, url, _ in targets:
            run_hey(url, 16, seconds=2)
        for tool in ("wrk", "hey"):
            for name, url, key in targets:
                r = measured(cpu, run_wrk, url, 16, d, lua.name) if tool == "wrk" else measured(cpu, run_hey, url, 16, seconds=d)
                res[f"16c/{name}/{tool}"] = r
                show(name, r)
        for name, _, key in targets[:2]:
            print(f"  instances of {key}: {api.stats(key)}")

        print(f"\n== cold start, {args.iterations} rounds; cella, runc and python interleaved, order rotating", flush=True)
        cold = cold_starts(args, api)
    finally:
        os.unlink(lua.name)
    load_after = loadavg()
    summary(args, res, cold, load_before, load_after)


def summary(args, res, cold, load_before, load_after):
    def lat(r):
        return f"{r['p50']:.0f} / {r['p99']:.0f}"

    print("\n== summary")
    print(f"load before {load_before}, after {load_after}; {os.cpu_count()} cores; {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}")
    print("\n| warm, 1 client | agent p50 / p99 µs | direct p50 / p99 µs | agent ÷ direct (p50) | agent req/s | direct req/s | agent CPU µs/req, ctx switches/req |")
    print("|---|---|---|---|---|---|---|")
    for tool in ("wrk", "hey"):
        a, b = res[f"1c/agent/{tool}"], res[f"1c/direct/{tool}"]
        note = " (0.1 ms resolution)" if tool == "hey" else ""
        n = max(a["n"], 1)
        print(f"| {tool}{note} | {lat(a)} | {lat(b)} | {a['p50'] / b['p50']:.2f}× | {a['rps']:.0f} | {b['rps']:.0f} "
              f"| {a['cpu']['agent'] / n * 1e6:.0f}, {a['cpu']['switches'] / n:.1f} |")
    print("\n| 16 clients | req/s | p50 / p99 µs | ÷ direct req/s | CPU µs/req client, agent, instances, direct | agent ctx switches/req |")
    print("|---|---|---|---|---|---|")
    for tool in ("wrk", "hey"):
        direct = res[f"16c/direct/{tool}"]["rps"]
        for name in ("agent c4", "agent unreserved", "direct"):
            r = res[f"16c/{name}/{tool}"]
            c = r["cpu"]
            cpu = ", ".join(f"{c[k] / max(r['n'], 1) * 1e6:.0f}" for k in ("client", "agent", "instances", "direct"))
            sw = f"{c['switches'] / max(r['n'], 1):.1f}" if name != "direct" else "–"
            print(f"| {name} ({tool}) | {r['rps']:.0f} | {lat(r)} | {r['rps'] / direct:.2f} | {cpu} | {sw} |")
    print(f"\n| cold start, {args.iterations} rounds | median ms | p99 ms |")
    print("|---|---|---|")
    for name, label in (("cella", "cella: deploy new version, first invoke (client-timed)"),
                        ("init", "cella: X-Cella-Init-Duration-Ms"),
                        ("runc", "runc run, python3.11 + handler"),
                        ("python", "chroot python3.11 -c pass"),
                        ("python+handler", "chroot python3.11, import + call handler"),
                        ("python+imports+handler", "chroot python3.11, runtime client's imports + handler")):
        s = cold[name]
        print(f"| {label} | {statistics.median(s):.2f} | {pct(s, 99):.2f} |")
    cm, rm = statistics.median(cold["cella"]), statistics.median(cold["runc"])
    pm = statistics.median(cold["python+handler"])
    print(f"\nratios: cella ÷ runc {cm / rm:.2f} (runc ÷ cella {rm / cm:.2f}×); "
          f"cella − python+handler {cm - pm:+.2f} ms (medians)")
    w = res["1c/agent/wrk"]
    t = res["16c/agent c4/wrk"]
    print("\ngoals:")
    print(f"  warm median ≤ 250 µs: {w['p50']:.0f} µs (wrk) — {'met' if w['p50'] <= 250 else 'missed'}")
    print(f"  ≥ 8,000 invocations/s, 16 clients, 4 warm instances: {t['rps']:.0f} (wrk) — {'met' if t['rps'] >= 8000 else 'missed'}")
    print(f"  cold ≤ python + 5 ms: {cm:.2f} vs {pm:.2f} + 5 — {'met' if cm <= pm + 5 else 'missed'}")
    print(f"  cold ≥ 2× faster than runc: {rm / cm:.2f}× — {'met' if rm / cm >= 2 else 'missed'}")
    print(f"load after: {load_after}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--code", required=True)
    s.add_argument("--handler", default="app.handler")
    s.add_argument("--workers", type=int, default=4)
    r = sub.add_parser("run")
    r.add_argument("--agent", required=True, help="http://127.0.0.1:PORT")
    r.add_argument("--direct", required=True, help="http://127.0.0.1:PORT of the serve peer")
    r.add_argument("--agent-pid", type=int, required=True)
    r.add_argument("--direct-pid", type=int, default=0)
    r.add_argument("--cgroup-root", default="cella-bench-agent")
    r.add_argument("--digest", required=True)
    r.add_argument("--code", required=True)
    r.add_argument("--rootfs", required=True)
    r.add_argument("--iterations", type=int, default=200)
    r.add_argument("--requests", type=int, default=10000, help="hey -n for the 1-client runs")
    r.add_argument("--duration", type=int, default=10, help="seconds per wrk run and 16-client hey run")
    r.add_argument("--settle", type=float, default=0.01, help="pause after each cold-start step, s")
    args = p.parse_args()
    (cmd_serve if args.cmd == "serve" else cmd_run)(args)


if __name__ == "__main__":
    main()
