# Function fixture: the module imports but has no `handler` (Runtime.HandlerNotFound at init).


def other(event, context):
    return "not the handler"
