# Fails at import: the runtime must report Runtime.ImportModuleError as an init error.
import module_that_does_not_exist  # noqa: F401


def handler(event, context):
    return "unreachable"
