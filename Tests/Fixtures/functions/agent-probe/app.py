# One handler the agent tests steer through the event: each key asks for one behaviour.
import os
import sys
import time

# Every sandbox's process is pid 1, so the pid tells instances apart only with the time, and two
# instances started together can import this in the same microsecond: the random part does.
INSTANCE = "%d-%f-%s" % (os.getpid(), time.time(), os.urandom(8).hex())


def handler(event, context):
    event = event or {}
    for line in event.get("print", []):
        print(line)
    if "sleep" in event:
        time.sleep(event["sleep"])
    if "raise" in event:
        raise ValueError(event["raise"])
    if "allocate_mb" in event:
        hog = []
        for _ in range(event["allocate_mb"]):
            hog.append(bytearray(1 << 20))
            for i in range(0, 1 << 20, 4096):
                hog[-1][i] = 1
    if "exit" in event:
        sys.stdout.flush()
        os._exit(event["exit"])
    return {
        "event": event,
        "instance": INSTANCE,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory_limit_in_mb": int(context.memory_limit_in_mb),
        "remaining_ms": context.get_remaining_time_in_millis(),
        "uid": os.getuid(),
    }
