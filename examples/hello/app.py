import json
import os


def handler(event, context):
    name = (event or {}).get("name", "world")
    print(f"saying hello to {name}")
    return {
        "message": f"hello, {name}",
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "uid": os.getuid(),
    }
