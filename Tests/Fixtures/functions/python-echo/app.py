"""Function fixture for the agent's end-to-end tests (python3.11 runtime). One handler per
behaviour; select it with _HANDLER=app.<name>. Parameters come from the event."""

import os
import random
import signal
import sys
import time


def handler(event, context):
    """Echoes the event with the context fields the agent sets."""
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "pid": os.getpid(),
        "uid": os.getuid(),
    }


def noop(event, context):
    """For round-trip benchmarks: does nothing, returns null."""
    return None


def fail(event, context):
    """Raises {"message": ...} as a ValueError: an invocation error."""
    raise ValueError(event.get("message", "requested failure"))


def sleep(event, context):
    """Sleeps {"seconds": N} (e.g. past the deadline, for timeouts)."""
    time.sleep(float(event.get("seconds", 1)))
    return {"slept": event.get("seconds", 1)}


def alloc(event, context):
    """Allocates and touches {"mib": N} MiB (for memory limits and OOM kills)."""
    mib = int(event.get("mib", 16))
    block = bytearray(mib * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return {"allocated_mib": mib}


def prints(event, context):
    """Prints {"lines": N} lines to stdout and one to stderr (log capture by request id)."""
    for i in range(int(event.get("lines", 3))):
        print(f"line {i} of {context.aws_request_id}")
    print(f"stderr line of {context.aws_request_id}", file=sys.stderr)
    return {"printed": int(event.get("lines", 3))}


def crash(event, context):
    """Ends the process without a response: os._exit({"code": N})."""
    print("exiting")
    os._exit(int(event.get("code", 3)))


def kill(event, context):
    """Kills its own process with SIGKILL (no response, no exit status)."""
    print("killing myself")
    os.kill(os.getpid(), signal.SIGKILL)


def rand(event, context):
    """Random numbers: different per instance unless randomness is reset after a fork."""
    return {"random": random.random(), "urandom": os.urandom(8).hex()}


_started = time.time()
_count = 0


def state(event, context):
    """Per-instance state: how many invocations this instance served, since when."""
    global _count
    _count += 1
    return {"count": _count, "started": _started, "pid": os.getpid()}


def tmp(event, context):
    """Writes {"data": ...} to /tmp, reads it back, and reports whether /var/task is writable."""
    path = "/tmp/fixture.txt"
    with open(path, "w") as f:
        f.write(event.get("data", "hello"))
    with open(path) as f:
        data = f.read()
    try:
        open("/var/task/written", "w").close()
        task_writable = True
    except OSError:
        task_writable = False
    return {"read": data, "task_writable": task_writable}
