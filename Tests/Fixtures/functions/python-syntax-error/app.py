# Function fixture: a syntax error (Runtime.UserCodeSyntaxError at init).


def handler(event, context)
    return "unreachable"
