"""Start-up times inside the rootfs (scripts/bench/runtime.sh runs it there):

    python3 bench_start.py RUNS NAME...

"exit" variants time spawn → exit of `python3.11 FLAGS -c pass`. "ready" variants time spawn →
the runtime's GET /next arriving at a listener on 127.0.0.1:9002 (interpreter start, runtime
import, handler import: what an instance costs before it can take its first event). Variants run
round-robin, so load drifts affect all alike. Prints median and p90 per variant in ms.
"""

import os
import socket
import statistics
import subprocess
import sys
import time

PY = "/usr/bin/python3.11"
BOOT = "/var/runtime/bootstrap"
VARIANTS = {
    # spawn → exit
    "pass": ("exit", [PY, "-c", "pass"]),
    "pass -s": ("exit", [PY, "-s", "-c", "pass"]),
    "pass -S": ("exit", [PY, "-S", "-c", "pass"]),
    "pass -I": ("exit", [PY, "-I", "-c", "pass"]),
    "pass -I -S": ("exit", [PY, "-I", "-S", "-c", "pass"]),
    "import socket,json": ("exit", [PY, "-sB", "-c", "import socket, json"]),
    # spawn → GET /next
    "bootstrap (shebang -sB)": ("ready", [BOOT]),
    "sh -c exec python -sB": ("ready", ["/bin/sh", "-c", f"exec {PY} -sB {BOOT}"]),
    "python (site, bytecode writes)": ("ready", [PY, BOOT]),
    "python -SB": ("ready", [PY, "-SB", BOOT]),
    "python -sB -E": ("ready", [PY, "-sBE", BOOT]),
    "awslambdaric": ("ready", ["/bin/sh", "-c", "exec python3 -m awslambdaric app.noop"]),
}


def run_exit(argv, env):
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True)
    return time.perf_counter() - start


def run_ready(argv, env, listener):
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd="/var/task")
    conn, _ = listener.accept()
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise SystemExit(f"{argv}: closed before GET /next")
        data += chunk
    elapsed = time.perf_counter() - start
    if not data.startswith(b"GET /2018-06-01/runtime/invocation/next"):
        raise SystemExit(f"{argv}: sent {data[:80]!r}")
    proc.kill()
    proc.wait()
    conn.close()
    return elapsed


def main():
    runs, names = int(sys.argv[1]), sys.argv[2:]
    listener = socket.create_server(("127.0.0.1", 9002))
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API="127.0.0.1:9002", _HANDLER="app.noop")
    times = {name: [] for name in names}
    for _ in range(runs):
        for name in names:
            kind, argv = VARIANTS[name]
            times[name].append(run_exit(argv, env) if kind == "exit"
                               else run_ready(argv, env, listener))
    for name in names:
        t = sorted(times[name])
        print(f"{name:34s} median {statistics.median(t) * 1000:6.2f} ms   "
              f"p90 {t[int(len(t) * 0.9)] * 1000:6.2f} ms   ({VARIANTS[name][0]}, {len(t)} runs)",
              flush=True)


if __name__ == "__main__":
    main()
