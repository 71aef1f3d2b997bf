# The agent's template tests (AgentTemplateTests): what a clone of a template sees and may do.
# Init-time state (INIT) is shared by every clone of one template; the after-clone hook's is not.
import os
import random
import signal
import sys
import time

try:
    from snapshot_restore_py import register_after_restore
except ImportError:  # outside Cella's runtime (the benchmark's runc peer)
    def register_after_restore(func, *args, **kwargs):
        pass

INIT = "%d-%f" % (os.getpid(), time.time())
INIT_SLEEP = float(os.environ.get("INIT_SLEEP", "0"))
if INIT_SLEEP:
    time.sleep(INIT_SLEEP)
_restored = []


def _after_clone():
    if os.environ.get("FAIL_AFTER_CLONE"):
        raise RuntimeError("after-clone hook failed on purpose")
    _restored.append(time.time())


# NO_AFTER_CLONE: a function without after-clone work (the benchmark runs both kinds).
if not os.environ.get("NO_AFTER_CLONE"):
    register_after_restore(_after_clone)


def _fd_kind(fd):
    try:
        target = os.readlink("/proc/self/fd/%d" % fd)
    except OSError:
        return "closed"
    return target.split(":")[0] if ":[" in target else target


def _status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
    return None


def _try(action):
    try:
        return "ok: %r" % (action(),)
    except Exception as exc:
        return "%s: %s" % (type(exc).__name__, exc)


def _die_soon():
    """Exits 20 ms after the answer: a timer signal, not a thread (starting a thread would cost
    the invocation more than the rest of it)."""
    signal.signal(signal.SIGALRM, lambda signum, frame: os._exit(0))
    signal.setitimer(signal.ITIMER_REAL, 0.02)


def handler(event, context):
    event = event or {}
    if event.get("die"):
        _die_soon()
    if "sleep" in event:
        time.sleep(event["sleep"])
    if "write" in event:
        for directory in ("/tmp", "/dev/shm"):
            with open(os.path.join(directory, event["write"]), "w") as f:
                f.write(context.aws_request_id)
    if "allocate_mb" in event:
        hog = []
        for _ in range(event["allocate_mb"]):
            hog.append(bytearray(1 << 20))
            for i in range(0, 1 << 20, 4096):
                hog[-1][i] = 1
    procs = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    others = [p for p in procs if str(p) != os.readlink("/proc/self")]
    return {
        "init": INIT,
        "restored": len(_restored),
        # Cella's Python runtime: a clone that asked for its first event before its go line.
        "asked_before_go": getattr(sys.modules.get("cella_runtime"), "clone_asked_before_go", None),
        "request_id": context.aws_request_id,
        "random": random.random(),
        "urandom": os.urandom(8).hex(),
        "pid": os.getpid(),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "log_stream": context.log_stream_name,
        "tmp": sorted(os.listdir("/tmp")),
        "shm": sorted(os.listdir("/dev/shm")),
        "procs": len(procs),
        "cap_eff": _status("CapEff"),
        "cap_bnd": _status("CapBnd"),
        "no_new_privs": _status("NoNewPrivs"),
        "seccomp": _status("Seccomp"),
        "seccomp_filters": _status("Seccomp_filters"),
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
        # What each descriptor past stdio is: "socket", "pipe", a path, or "closed" (the listing's).
        "fd_kinds": sorted(_fd_kind(int(fd)) for fd in os.listdir("/proc/self/fd") if int(fd) > 2),
        # Reaching the template (pid 1 of the sandbox's namespace) or another clone.
        "template_mem": _try(lambda: open("/proc/1/mem", "rb").close()),
        "template_root": _try(lambda: os.listdir("/proc/1/root/tmp")),
        "other_roots": [_try(lambda p=p: os.listdir("/proc/%d/root/tmp" % p)) for p in others],
        "dev_write": _try(lambda: open("/dev/cella-probe", "w").close()),
        "unshare": _try(lambda: os.unshare(0x10000000) if hasattr(os, "unshare") else _unshare()),
        "hostname": os.uname().nodename,
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
    }


def _unshare():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return "unshared"


def noop(event, context):
    """For the benchmark: nothing; with {"die": true} the instance exits 20 ms after answering,
    so that the next invocation needs a new one."""
    if event and event.get("die"):
        _die_soon()
    return None
