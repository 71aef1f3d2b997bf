"""Function fixture run by AWS's own runtime client (awslambdaric), which the bundle vendors:
scripts/fixtures.sh installs it next to this file. _HANDLER=app.handler is ignored: the
bundle's bootstrap names the handler."""

import os


def handler(event, context):
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "runtime": "awslambdaric",
        "pid": os.getpid(),
    }


def noop(event, context):
    return None


def fail(event, context):
    raise ValueError(event.get("message", "requested failure"))
