"""The snapshot benchmark's driver (scripts/bench/snapshot.sh starts the agents): time to first
response of a function whose init takes ~300 ms, for (a) a full cold start, (b) a clone from its
template, (b') the same for a version that registers an after-clone hook, (c) a warm instance,
(c') a warm instance after the same pause as (a) and (b) (their control), and (d) `runc run` of
the same rootfs and handler; median and p99 of each; and the private memory (USS) of idle
clones."""

import argparse
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time

RUNC = shutil.which("runc")


class API:
    def __init__(self, url):
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)

    def request(self, method, path, body=None, headers=None):
        self.conn.request(method, path, body=body, headers=headers or {})
        r = self.conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def deploy(api, version, digest, init_sleep, memory=128, hook=True):
    environment = {"INIT_SLEEP": str(init_sleep)}
    if not hook:
        environment["NO_AFTER_CLONE"] = "1"
    body = json.dumps({"config": {"name": "slow", "runtime": "python3.11", "handler": "app.noop",
                                  "memoryMB": memory, "timeoutSeconds": 30, "environment": environment},
                       "bundleDigest": digest})
    status, _, text = api.request("PUT", f"/v1/functions/bench/slow/{version}", body,
                                  {"Content-Type": "application/json"})
    if status != 200:
        raise SystemExit(f"deploy {version}: {status} {text[:300]!r}")


def invoke(api, version, event, expect):
    t0 = time.perf_counter()
    status, headers, body = api.request("POST", f"/v1/functions/bench/slow/{version}/invoke",
                                        json.dumps(event).encode(), {"Content-Type": "application/json"})
    ms = (time.perf_counter() - t0) * 1e3
    start, outcome = headers.get("X-Cella-Start"), headers.get("X-Cella-Outcome")
    if status != 200 or outcome != "success" or start != expect:
        raise SystemExit(f"invoke {version}: {status} start={start} (wanted {expect}) outcome={outcome} {body[:300]!r}")
    return ms, float(headers.get("X-Cella-Init-Duration-Ms") or "nan"), float(headers.get("X-Cella-Duration-Ms") or "nan")


def runc_series(rootfs, code, init_sleep, n, settle):
    bundle = tempfile.mkdtemp(prefix="cella-bench-snap-runc.")
    try:
        subprocess.run([RUNC, "spec", "--bundle", bundle], check=True)
        path = os.path.join(bundle, "config.json")
        with open(path) as f:
            config = json.load(f)
        config["root"] = {"path": rootfs, "readonly": True}
        proc = config["process"]
        proc["terminal"] = False
        proc["args"] = ["/usr/bin/python3.11", "-sB", "-c",
                        'import sys; sys.path.insert(0, "/var/task"); import app; app.noop({}, None)']
        proc["env"] = ["PATH=/usr/bin:/bin", "LANG=C.UTF-8", f"INIT_SLEEP={init_sleep}"]
        proc["cwd"] = "/"
        config["mounts"].append({"destination": "/var/task", "type": "bind", "source": code,
                                 "options": ["rbind", "ro"]})
        with open(path, "w") as f:
            json.dump(config, f)
        out = []
        for i in range(n):
            cid = f"cella-bench-snap-{os.getpid()}-{i}"
            t0 = time.perf_counter()
            rc = subprocess.run([RUNC, "run", "--bundle", bundle, cid], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL).returncode
            out.append((time.perf_counter() - t0) * 1e3)
            subprocess.run([RUNC, "delete", "-f", cid], stderr=subprocess.DEVNULL)
            if rc != 0:
                raise SystemExit(f"runc run exited {rc}")
            time.sleep(settle)
        return out
    finally:
        shutil.rmtree(bundle, ignore_errors=True)


def cgroup_pids(root, template):
    """pids of the sandboxes under the agent's cgroup root (pids hierarchy, or cgroup2)."""
    for base in (f"/sys/fs/cgroup/pids/{root}", f"/sys/fs/cgroup/{root}"):
        if os.path.isdir(base):
            break
    else:
        return []
    pids = []
    for name in sorted(os.listdir(base)):
        if not os.path.isdir(os.path.join(base, name)) or (("-t" in name) != template):
            continue
        with open(os.path.join(base, name, "cgroup.procs")) as f:
            pids += [int(p) for p in f.read().split()]
    return pids


def rollup(pid):
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                fields[parts[0].rstrip(":")] = int(parts[1])
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0) + fields.get("Private_Hugetlb", 0)
    return uss, fields.get("Rss", 0), fields.get("Pss", 0)


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def show(label, xs):
    print(f"  {label:<28} median {pct(xs, 50):9.2f} ms   p99 {pct(xs, 99):9.2f} ms   "
          f"min {min(xs):8.2f}   n={len(xs)}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cold", required=True, help="agent without templates")
    p.add_argument("--snap", required=True, help="agent with templates")
    p.add_argument("--snap-root", required=True, help="the templates agent's cgroup root")
    p.add_argument("--digest", required=True)
    p.add_argument("--code", required=True)
    p.add_argument("--rootfs", required=True)
    p.add_argument("--iterations", type=int, default=50)
    p.add_argument("--init-sleep", type=float, default=0.3)
    p.add_argument("--idle-clones", type=int, default=200)
    p.add_argument("--settle", type=float, default=0.1)
    args = p.parse_args()
    cold, snap = API(args.cold), API(args.snap)
    deploy(cold, "1", args.digest, args.init_sleep, hook=False)
    deploy(snap, "1", args.digest, args.init_sleep, hook=False)
    deploy(snap, "hooked", args.digest, args.init_sleep)
    die = {"die": True}
    series = {"(a) cold start": [], "(b) clone from template": [], "(b') clone, after-clone hook": [],
              "(c) warm": [], "(c') warm after a pause": [], "(d) runc run": []}
    inits = {"cold": [], "clone": [], "hooked": []}
    runs = {"cold": [], "clone": [], "hooked": []}
    for version in ("1", "hooked"):
        ms, first_init, _ = invoke(snap, version, die, "cold")
        print(f"  first call of version {version} on the templates agent (template built, then cloned): "
              f"{ms:.1f} ms, init {first_init:.1f} ms")
        time.sleep(args.settle)
    deploy(snap, "warm", args.digest, args.init_sleep)
    invoke(snap, "warm", {}, "cold")
    # Interleaved, each call after the same pause with no request in flight, so that every call of
    # (a), (b) and (b') needs a new instance (the last one exited 20 ms after answering) and the
    # machine's drift hits all. (c') is their control: a warm call after the same pause. On an
    # idle VM the first request after a pause pays for waking every thread it crosses.
    rotation = (("(a) cold start", cold, "1", "cold", die, "cold"),
                ("(b) clone from template", snap, "1", "clone", die, "clone"),
                ("(b') clone, after-clone hook", snap, "hooked", "hooked", die, "clone"),
                ("(c') warm after a pause", snap, "warm", None, {}, "warm"))
    for i in range(args.iterations):
        for label, api, version, kind, event, start in rotation:
            ms, init, run = invoke(api, version, event, start)
            series[label].append(ms)
            if kind:
                inits[kind].append(init)
                runs[kind].append(run)
            time.sleep(args.settle)
    for i in range(max(args.iterations, 200)):
        series["(c) warm"].append(invoke(snap, "warm", {}, "warm")[0])
    series["(d) runc run"] = runc_series(args.rootfs, args.code, args.init_sleep, args.iterations, args.settle)

    print(f"time to first response, function init {args.init_sleep * 1000:.0f} ms (client: http.client, keep-alive):")
    for label, xs in series.items():
        show(label, xs)
    print(f"  X-Cella-Init-Duration-Ms (new instance until its first /next; a clone that asked before its go "
          f"line: the later of the line and that /next): cold median {pct(inits['cold'], 50):.2f}, clone median {pct(inits['clone'], 50):.2f} "
          f"(p99 {pct(inits['clone'], 99):.2f}), hooked clone median {pct(inits['hooked'], 50):.2f}")
    print(f"  X-Cella-Duration-Ms (the first event, handed over until answered): cold median {pct(runs['cold'], 50):.2f}, "
          f"clone median {pct(runs['clone'], 50):.2f}, hooked clone median {pct(runs['hooked'], 50):.2f}")
    a, b, b2, c, c2, d = (pct(series[k], 50) for k in series)
    print(f"  ratios of medians: cold/clone {a / b:.1f}x, runc/clone {d / b:.1f}x, cold/hooked clone {a / b2:.1f}x, "
          f"clone/warm {b / c:.1f}x, clone/warm after a pause {b / c2:.1f}x")

    # Idle clones: prewarm N, then read each one's USS.
    deploy(snap, "idle", args.digest, args.init_sleep)
    before = mem_available_kib()
    t0 = time.perf_counter()
    status, _, body = snap.request("POST", f"/v1/functions/bench/slow/idle/prewarm?count={args.idle_clones}")
    took = time.perf_counter() - t0
    if status != 200:
        raise SystemExit(f"prewarm: {status} {body[:300]!r}")
    time.sleep(1)
    after = mem_available_kib()
    clones = [pid for pid in cgroup_pids(args.snap_root, template=False)]
    templates = cgroup_pids(args.snap_root, template=True)
    sizes = []
    for pid in clones:
        try:
            sizes.append(rollup(pid))
        except OSError:
            pass
    uss = [s[0] / 1024 for s in sizes]
    print(f"idle clones: {json.loads(body)['instances']} prewarmed in {took:.2f} s; {len(sizes)} read")
    print(f"  USS per idle clone (smaps_rollup Private_*): median {pct(uss, 50):.2f} MiB, p99 {pct(uss, 99):.2f} MiB, "
          f"max {max(uss):.2f} MiB")
    print(f"  RSS median {pct([s[1] / 1024 for s in sizes], 50):.1f} MiB, PSS median {pct([s[2] / 1024 for s in sizes], 50):.2f} MiB")
    for pid in templates[:3]:
        u, r, ps = rollup(pid)
        print(f"  a template: USS {u / 1024:.1f} MiB, RSS {r / 1024:.1f} MiB")
    per = (before - after) / 1024 / max(1, len(sizes))
    print(f"  MemAvailable fell {(before - after) / 1024:.0f} MiB for {len(sizes)} clones: {per:.2f} MiB each "
          f"(kernel side included) -> 1000 idle clones ~ {per * 1000 / 1024:.2f} GiB")


if __name__ == "__main__":
    main()
