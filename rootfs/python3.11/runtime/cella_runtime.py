"""Cella's Python runtime client: runs a Lambda-style handler against the Lambda Runtime API.

Standard library only. Speaks HTTP/1.1 over one keep-alive TCP connection with a small client of
its own (one sendmsg and usually one recv per request) because the warm invoke path is measured in
microseconds; see docs/runtimes.md for the figures against http.client.

The process has three phases, kept apart so that a template can park after `init` and fork clones
that each `serve` on a connection of their own (cella_template, docs/runtime-snapshots.md):
    setup_process()  stdio, signals, sys.path
    init(api, spec)  import the handler; on failure POST /runtime/init/error and exit 1
    serve(api, fn)   GET /next → handler → POST /response or /error, forever

Error types and shapes follow awslambdaric 4.2.2, so functions and tools see the same thing as on
Lambda (docs/runtimes.md lists the few differences).

Start-up matters as much as the warm path, so the module imports only what is already loaded or
cheap: _socket and _signal rather than socket and signal (their wrappers build enums: 1.8 ms), and
json's C accelerator _json rather than json, which imports re and enum (about 5 ms of a 13 ms
start; python -X importtime). json itself is imported only on an error path. select (a dlopen,
0.3-0.6 ms) is the exception: without it a SIGTERM can be lost (see `watch_signals`).
"""

import _json
import _signal
import _socket
import os
import select
import sys
import time

_PREFIX = b"/2018-06-01/runtime/"
_JSON = b"application/json"

# Lambda's sys.path order: function code first, then Lambda layers, then the runtime.
_TASK_PATHS = ("/opt/python/lib/python3.11/site-packages", "/opt/python")


class RuntimeAPIError(Exception):
    """The Runtime API cannot be reached or answered something the runtime cannot go on from."""


class _ClosedIdle(Exception):
    """The server closed the connection before sending any byte of an answer."""


class RuntimeAPI:
    """One keep-alive HTTP/1.1 connection to the Runtime API at `address` ("host:port").

    Connects lazily, so a process that is forked after init holds no shared socket; a forked
    child calls `reconnect()` anyway. Bodies are read by Content-Length or chunked encoding.
    """

    def __init__(self, address):
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            raise RuntimeAPIError(f"AWS_LAMBDA_RUNTIME_API must be host:port, not {address!r}")
        self.host, self.port = host.strip("[]"), int(port)
        self.sock = None
        self.buf = bytearray()  # bytes received past the end of the last response
        host_line = b"Host: " + address.encode() + b"\r\n"
        self.get_next = b"GET " + _PREFIX + b"invocation/next HTTP/1.1\r\n" + host_line + b"\r\n"
        self.host_line = host_line
        self.fixed = False  # a clone's socket, handed over by the agent: never reconnected
        self._poller = None  # select.poll over (socket, wake-up pipe) for `_wait`
        self._polled = None  # the descriptors it watches

    def connect(self):
        if self.fixed:
            raise RuntimeAPIError("the Runtime API closed this clone's connection")
        error = None
        # The host as bytes: a str would go through the idna codec, which imports re.
        for family, kind, proto, _, address in _socket.getaddrinfo(
                self.host.encode(), self.port, 0, _socket.SOCK_STREAM):
            sock = _socket.socket(family, kind, proto)
            try:
                sock.connect(address)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            # Requests are written whole with one sendmsg; Nagle would only delay the next one.
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            self.sock = sock
            self.buf = bytearray()
            return
        raise RuntimeAPIError(f"cannot connect to the Runtime API at {self.host}:{self.port}: "
                              f"{error}")

    def reconnect(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.connect()

    # -- requests -----------------------------------------------------------------------------

    def next(self, asked=False):
        """Long-polls for the next event: returns (headers, body); headers are lowercase bytes.
        `asked`: the GET was sent already (a clone's first); only its answer is read."""
        if asked:
            try:
                status, headers, body = self._read_response(wait=True)
            except _ClosedIdle:
                raise RuntimeAPIError("the Runtime API closed the connection before the first event") from None
        else:
            status, headers, body = self._exchange((self.get_next,), wait=True)
        if status != 200:
            raise RuntimeAPIError(f"GET /next answered {status}: {body[:200]!r}")
        return headers, body

    def post(self, path, body, content_type=_JSON, error_type=None):
        """POSTs `body` (bytes) to `path` (bytes, below /2018-06-01/runtime/); returns the status.

        Non-2xx answers (400 unknown or answered request id, 413 too large) are returned, not
        raised: the agent has already decided the invocation's outcome, the runtime goes on.
        """
        head = b"POST %s%s HTTP/1.1\r\n%sContent-Type: %s\r\nContent-Length: %d\r\n" % (
            _PREFIX, path, self.host_line, content_type, len(body))
        if error_type is not None:
            head += b"Lambda-Runtime-Function-Error-Type: " + error_type + b"\r\n"
        return self._exchange((head + b"\r\n", body))[0]

    def park(self):
        """POSTs cella/template/park (docs/runtime-snapshots.md): returns the seccomp program
        every clone installs; then closes the connection, which the template no longer uses."""
        head = b"POST %scella/template/park HTTP/1.1\r\n%sContent-Length: 0\r\n\r\n" % (
            _PREFIX, self.host_line)
        status, _, body = self._exchange((head,))
        if status != 200:
            raise RuntimeAPIError(f"park answered {status}: {body[:200]!r}")
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        return body

    def _exchange(self, parts, wait=False):
        """Sends one request (its parts in one sendmsg, so a large body is not copied) and reads
        its answer. A connection the server closed while it was idle (between an event and its
        response, however long the handler ran) is reopened once and the request sent again."""
        for attempt in (1, 2):
            if self.sock is None:
                self.connect()
            try:
                sent = self.sock.sendmsg(parts)
                if sent < sum(map(len, parts)):
                    self._send_rest(parts, sent)
                return self._read_response(wait)
            except (_ClosedIdle, BrokenPipeError, ConnectionResetError) as exc:
                self.sock.close()
                self.sock = None
                if attempt == 2:
                    raise RuntimeAPIError(f"the Runtime API closed the connection: {exc}") from None

    def _send_rest(self, parts, sent):
        for part in parts:
            if sent >= len(part):
                sent -= len(part)
                continue
            self.sock.sendall(memoryview(part)[sent:])
            sent = 0

    # -- responses ----------------------------------------------------------------------------

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RuntimeAPIError("the Runtime API closed the connection")
        self.buf += chunk

    def _wait(self):
        """Blocks until the connection has bytes to read (or is closed). A signal with a Python
        handler that arrives meanwhile wakes the poll (`watch_signals`), and its handler runs
        before the next one: SIGTERM's never returns."""
        fd = self.sock.fileno()
        if self._polled != (fd, _wake_r):
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            if _wake_r >= 0:
                poller.register(_wake_r, select.POLLIN)
            self._poller, self._polled = poller, (fd, _wake_r)
        while True:
            readable = False
            for ready, _ in self._poller.poll():
                if ready == fd:
                    readable = True
                else:
                    try:
                        os.read(_wake_r, 64)
                    except BlockingIOError:
                        pass
            if readable:
                return

    def _read_response(self, wait=False):
        """`wait`: poll with the signal pipe before each read of the head (`_wait`). Only the
        long poll for the next event needs it: any other answer follows its request at once, and
        a signal's handler runs as soon as that read returns."""
        buf = self.buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            if wait:
                self._wait()
            chunk = self.sock.recv(65536)
            if not chunk:
                if buf:
                    raise RuntimeAPIError("the Runtime API closed the connection mid-answer")
                raise _ClosedIdle("closed before answering")
            buf += chunk
        lines = bytes(buf[:end]).split(b"\r\n")
        del buf[:end + 4]
        try:
            status = int(lines[0][9:12])
        except ValueError:
            raise RuntimeAPIError(f"malformed status line {lines[0][:80]!r}") from None
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length = headers.get(b"content-length")
        if length is not None:
            body = self._read_exact(int(length))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = self._read_chunked()
        else:
            body = b""  # every Runtime API answer has a length or is chunked
        if headers.get(b"connection", b"").lower() == b"close":
            self.sock.close()
            self.sock = None
        return status, headers, body

    def _read_exact(self, n):
        buf = self.buf
        have = len(buf)
        if have >= n:
            body = bytes(buf[:n])
            del buf[:n]
            return body
        # Large event: receive straight into a buffer of the final size.
        body = bytearray(n)
        body[:have] = buf
        buf.clear()
        view = memoryview(body)
        recv_into = self.sock.recv_into
        while have < n:
            got = recv_into(view[have:])
            if not got:
                raise RuntimeAPIError("the Runtime API closed the connection mid-body")
            have += got
        return bytes(body)

    def _read_chunked(self):
        parts = []
        while True:
            while (eol := self.buf.find(b"\r\n")) < 0:
                self._fill()
            size = int(bytes(self.buf[:eol]).split(b";")[0], 16)
            del self.buf[:eol + 2]
            if size == 0:
                # Trailers (if any) end with an empty line.
                while (end := self.buf.find(b"\r\n")) != 0:
                    if end > 0:
                        del self.buf[:end + 2]
                    else:
                        self._fill()
                del self.buf[:2]
                return b"".join(parts)
            parts.append(self._read_exact(size))
            self._read_exact(2)  # the chunk's CRLF


# -- the context object ----------------------------------------------------------------------


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, identity_id=None, pool_id=None):
        self.cognito_identity_id = identity_id
        self.cognito_identity_pool_id = pool_id

    def __repr__(self):
        return (f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
                f"cognito_identity_pool_id={self.cognito_identity_pool_id}])")


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code",
                 "app_package_name")

    def __init__(self, fields):
        for name in self.__slots__:
            setattr(self, name, fields.get(name))


class ClientContext:
    __slots__ = ("custom", "env", "client")

    def __init__(self, fields):
        self.custom = fields.get("custom")
        self.env = fields.get("env")
        client = fields.get("client")
        self.client = Client(client) if client is not None else None


class LambdaContext:
    """The handler's second argument, with the attributes Lambda's Python runtime gives it.

    The per-function fields are class attributes, set once by `init`; per-invocation ones are
    set on the instance. memory_limit_in_mb is an int (awslambdaric passes the env string).
    """

    function_name = function_version = log_group_name = log_stream_name = None
    memory_limit_in_mb = None

    def __init__(self, request_id, function_arn, deadline_ms, identity, client_context,
                 tenant_id):
        self.aws_request_id = request_id
        self.invoked_function_arn = function_arn
        self._deadline_ms = deadline_ms
        self.identity = identity
        self.client_context = client_context
        self.tenant_id = tenant_id

    def get_remaining_time_in_millis(self):
        left = self._deadline_ms - int(time.time() * 1000)
        return left if left > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (f"LambdaContext([aws_request_id={self.aws_request_id},"
                f"function_name={self.function_name},"
                f"invoked_function_arn={self.invoked_function_arn}])")


# -- errors ----------------------------------------------------------------------------------


class FaultError(Exception):
    """A failure the runtime names itself (Runtime.*), as opposed to one the handler raised."""

    def __init__(self, error_type, message, stack_trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []


def _error_body(error_type, message, stack_trace, request_id=""):
    # awslambdaric's shape and key order; init errors carry an empty requestId too.
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id,
            "stackTrace": stack_trace}


def _exception_body(exc, request_id=""):
    import traceback  # only on failure: it costs milliseconds to import

    frames = traceback.extract_tb(exc.__traceback__)
    # Leave out this module's frames at the top, as awslambdaric leaves out its bootstrap.py.
    skip = 0
    while skip < len(frames) and frames[skip].filename == __file__:
        skip += 1
    try:
        message = str(exc)
    except Exception:
        message = f"<unprintable {type(exc).__name__} object>"
    return _error_body(type(exc).__name__, message, traceback.format_list(frames[skip:]),
                       request_id)


def _log_error(body):
    """Prints the error as awslambdaric does: one log record, lines joined by CR, traceback
    indentation as no-break spaces. On stderr, so that it is told apart from handler output."""
    lines = ["[ERROR] " + body["errorType"] + (": " + body["errorMessage"]
                                                if body["errorMessage"] else "")]
    lines.append("Traceback (most recent call last):")  # even when empty, as awslambdaric
    for element in body["stackTrace"]:
        for line in element.splitlines():
            stripped = line.lstrip(" ")
            lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    sys.stdout.flush()
    sys.stderr.write("\r".join(lines) + "\n")
    sys.stderr.flush()


# -- JSON -------------------------------------------------------------------------------------

_WHITESPACE = " \t\n\r"  # json's own definition


class _DecoderSettings:
    """What _json's scanner reads from a json.JSONDecoder: json.loads's defaults."""

    strict = True
    object_hook = object_pairs_hook = None
    parse_float, parse_int = float, int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"),
                      "NaN": float("nan")}.__getitem__


_scan = _json.make_scanner(_DecoderSettings())


def _loads(data):
    """json.loads(data) for UTF-8 bytes, by the same C scanner json.loads uses. Whatever the
    scanner does not take whole (another encoding, a BOM, invalid JSON) goes to json.loads itself,
    so that results and error messages are exactly json's."""
    try:
        text = data.decode()
        obj, end = _scan(text, len(text) - len(text.lstrip(_WHITESPACE)))
        if end == len(text) or not text[end:].strip(_WHITESPACE):
            return obj
    except Exception:  # a BOM or a NUL (UTF-16, UTF-32) stops the scanner at once
        pass
    import json

    return json.loads(data)


def _dumps(obj):
    """json.dumps(obj, default=_json_default) by json's C encoder (what JSONEncoder.encode runs
    for compact output), with a fresh circular-reference memo each time as json does."""
    return "".join(_json.make_encoder({}, _json_default, _json.encode_basestring_ascii, None,
                                      ": ", ", ", False, False, True)(obj, 0))


# -- marshalling ------------------------------------------------------------------------------


def _json_default(obj):
    import decimal

    # awslambdaric writes a Decimal's digits as they are (simplejson RawJSON); the standard
    # library can only go through int or float.
    if isinstance(obj, decimal.Decimal):
        if obj.is_finite() and obj == obj.to_integral_value():
            return int(obj)
        return float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _marshal(result):
    """Returns (body, content type) as awslambdaric does: bytes pass through as
    application/unknown, everything else (str included) is JSON-encoded."""
    if isinstance(result, bytes):
        return result, b"application/unknown"
    try:
        return _dumps(result).encode(), _JSON
    except Exception as exc:
        raise FaultError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None


# -- the three phases ------------------------------------------------------------------------


# The read end of the pipe the interpreter writes a byte to when a signal arrives (-1: none).
_wake_r = -1


def watch_signals():
    """Makes a signal that arrives while the runtime waits for the Runtime API wake it.

    A Python signal handler runs between bytecodes. A signal that lands after the interpreter's
    last check and before a blocking recv(2) starts only marks the handler as due: recv sleeps
    on, and SIGTERM would wait for the next event to be handled (the suspected cause of a test's
    rare timeout after its SIGTERM; not reproduced on demand). So the interpreter also writes each
    signal to a pipe (signal.set_wakeup_fd), and `RuntimeAPI._wait` polls that pipe with the
    socket while the runtime waits for its next event: the poll returns, and the handler runs.

    Called by `setup_process`, and again by each template clone after it closes the template's
    descriptors (the pipe was among them).
    """
    global _wake_r
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    _signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    _wake_r = r


def _on_sigterm(signum, frame):
    # The runtime is pid 1 of its pid namespace, where an unhandled SIGTERM would be ignored.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(128 + signum)


def setup_process(task_root):
    """Stdio, signals and the import path; nothing that depends on the function."""
    # Line-buffered output: each print reaches the agent as one write, as it happens, and a
    # crash loses at most an unfinished line. (awslambdaric flushes after every write.)
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    _signal.signal(_signal.SIGTERM, _on_sigterm)
    watch_signals()
    # Function code first, then layers, then the runtime and the standard library.
    sys.path[0:0] = (task_root,) + _TASK_PATHS


def load_handler(spec):
    """Imports the handler named by `spec` ("module.function", "pkg/mod.function" or
    "pkg.mod.function"); raises FaultError with awslambdaric's types and messages."""
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError as exc:
        raise FaultError("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {exc}") from None
    if modname.split(".")[0] in sys.builtin_module_names:
        raise FaultError("Runtime.BuiltInModuleConflict",
                         f"Cannot use built-in module {modname} as a handler module")
    try:
        # As importlib.import_module does for an absolute name, without importing importlib.
        name = modname.replace("/", ".")
        __import__(name)
        module = sys.modules[name]
    except ImportError as exc:
        raise FaultError("Runtime.ImportModuleError",
                         f"Unable to import module '{modname}': {exc}") from None
    except SyntaxError as exc:
        trace = ['  File "%s" Line %s\n    %s' % (exc.filename, exc.lineno, exc.text)]
        raise FaultError("Runtime.UserCodeSyntaxError",
                         f"Syntax error in module '{modname}': {exc}", trace) from None
    try:
        return getattr(module, fname)
    except AttributeError:
        raise FaultError("Runtime.HandlerNotFound",
                         f"Handler '{fname}' missing on module '{modname}'") from None


def init(api, spec, environ=os.environ):
    """Sets the per-function context fields and imports the handler. On failure, reports it to
    /runtime/init/error (type in the body and in Lambda-Runtime-Function-Error-Type) and exits 1."""
    LambdaContext.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
    LambdaContext.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION")
    LambdaContext.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
    LambdaContext.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
    memory = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    LambdaContext.memory_limit_in_mb = int(memory) if memory.isdigit() else None
    try:
        handler = load_handler(spec)
    except FaultError as fault:
        body = _error_body(fault.error_type, fault.message, fault.stack_trace)
    except Exception as exc:  # the module raised while it was imported
        body = _exception_body(exc)
    else:
        _install_log_handler_if_used()
        return handler
    _log_error(body)
    try:
        api.post(b"init/error", _dumps(body).encode(),
                 error_type=body["errorType"].encode("ascii", "replace"))
    finally:
        sys.exit(1)


def _parse_json_header(value, name):
    try:
        return _loads(value)
    except Exception as exc:
        raise FaultError("Runtime.LambdaContextUnmarshalError",
                         f"Unable to parse {name} JSON: {exc}") from None


def _context(headers, request_id):
    deadline = headers.get(b"lambda-runtime-deadline-ms")
    identity = headers.get(b"lambda-runtime-cognito-identity")
    if identity:
        fields = _parse_json_header(identity, "Cognito Identity")
        identity = CognitoIdentity(fields.get("cognitoIdentityId"),
                                   fields.get("cognitoIdentityPoolId"))
    else:
        identity = CognitoIdentity()
    client_context = headers.get(b"lambda-runtime-client-context")
    if client_context:
        client_context = ClientContext(_parse_json_header(client_context, "Client Context"))
    else:
        client_context = None
    arn = headers.get(b"lambda-runtime-invoked-function-arn")
    tenant = headers.get(b"lambda-runtime-aws-tenant-id")
    return LambdaContext(request_id, arn.decode() if arn is not None else None,
                         int(deadline) if deadline else 0, identity, client_context,
                         tenant.decode() if tenant is not None else None)


def handle(api, handler, headers, body):
    """Runs one invocation and posts its result or error."""
    rid = headers.get(b"lambda-runtime-aws-request-id", b"")
    request_id = rid.decode()
    global _request_id
    _request_id = request_id
    trace = headers.get(b"lambda-runtime-trace-id")
    if trace is not None:
        os.environ["_X_AMZN_TRACE_ID"] = trace.decode()
    elif "_X_AMZN_TRACE_ID" in os.environ:
        del os.environ["_X_AMZN_TRACE_ID"]
    try:
        context = _context(headers, request_id)
        if headers.get(b"content-type") == _JSON:
            try:
                event = _loads(body)
            except Exception as exc:
                raise FaultError("Runtime.UnmarshalError",
                                 f"Unable to unmarshal input: {exc}") from None
        else:
            event = body
        payload, content_type = _marshal(handler(event, context))
    except FaultError as fault:
        error = _error_body(fault.error_type, fault.message, fault.stack_trace, request_id)
    except Exception as exc:
        error = _exception_body(exc, request_id)
    else:
        # Output written during the invocation must reach the agent before the response does.
        sys.stdout.flush()
        sys.stderr.flush()
        api.post(b"invocation/" + rid + b"/response", payload, content_type)
        return
    _log_error(error)
    api.post(b"invocation/" + rid + b"/error", _dumps(error).encode(),
             error_type=error["errorType"].encode("ascii", "replace"))


def serve(api, handler, asked=False):
    """The invoke loop: never returns; Runtime API failures end the process. `asked`: the first
    /next was sent already (see `serve_clone`)."""
    next_event = api.next
    while True:
        headers, body = next_event(asked)
        asked = False
        handle(api, handler, headers, body)
        if _log_handler_pending and "logging" in sys.modules:
            _install_log_handler_if_used()


# -- logging ----------------------------------------------------------------------------------

# The request id of the invocation in progress, for log records.
_request_id = ""
_log_handler_pending = True


def _install_log_handler_if_used():
    """Gives the root logger the handler Lambda's Python runtime installs (its text format, on
    stdout), but only once the function has imported logging: importing it costs milliseconds
    at start-up and most functions never do."""
    global _log_handler_pending
    if not _log_handler_pending or "logging" not in sys.modules:
        return
    _log_handler_pending = False
    import logging

    class RequestIdFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _request_id
            return True

    class StdoutHandler(logging.Handler):
        def emit(self, record):
            try:
                sys.stdout.write(self.format(record))
            except Exception:
                self.handleError(record)

    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
        "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler = StdoutHandler()
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logging.getLogger().addHandler(handler)


def main():
    task_root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    setup_process(task_root)
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        sys.stderr.write("cella runtime: AWS_LAMBDA_RUNTIME_API is not set\n")
        sys.exit(1)
    api = RuntimeAPI(address)
    handler = init(api, os.environ.get("_HANDLER", ""))
    control = os.environ.pop("CELLA_TEMPLATE_FD", None)
    try:
        if control is not None and control.isdigit():
            # The agent asked for a template: park instead of serving (docs/runtime-snapshots.md).
            import cella_template
            cella_template.park(api, handler, int(control))
        serve(api, handler)
    except (RuntimeAPIError, OSError) as exc:
        sys.stdout.flush()
        sys.stderr.write(f"cella runtime: {exc}\n")
        sys.exit(1)


# Hooks for templates (cella_template); here so that registering them imports nothing.
before_park_hooks = []
after_clone_hooks = []


def register_before_park(func, *args, **kwargs):
    """Runs `func(*args, **kwargs)` in a template just before it parks (SnapStart's
    before-snapshot hook). Plain instances never run it."""
    before_park_hooks.append((func, args, kwargs))


def register_after_clone(func, *args, **kwargs):
    """Runs `func(*args, **kwargs)` in each clone of a template before its first event
    (SnapStart's after-restore hook): reopen files and sockets opened at init (a clone has none
    of the template's descriptors), reseed generators of your own, refresh credentials."""
    after_clone_hooks.append((func, args, kwargs))


def rehearse():
    """Runs this runtime's invoke path once, against a local socket pair and with a handler that
    does nothing: /next, the event's headers and JSON, the context, the answer and its POST. A
    template's clone made ahead of need does this while it waits for its go line, so that the
    copy-on-write page copies and first-use work of that path (in the interpreter and in this
    module, never in the function's code) happen before an invocation waits for them."""
    ours, theirs = _socket.socketpair()
    global _request_id
    trace = os.environ.get("_X_AMZN_TRACE_ID")
    # handle() flushes sys.stdout and sys.stderr: the interpreter's own streams here, in case
    # the function replaced them at init (its objects' code must not run before the go line).
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    try:
        body = b'{"rehearsal": [1, 2.5, "x", null, true]}'
        theirs.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Lambda-Runtime-Aws-Request-Id: rehearsal\r\nLambda-Runtime-Deadline-Ms: 0\r\n"
            b"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:rehearsal\r\n"
            b"Content-Length: %d\r\n\r\n%s"
            b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n" % (len(body), body))
        api = RuntimeAPI("127.0.0.1:9001")
        api.sock, api.fixed = ours, True
        headers, event = api.next()
        handle(api, lambda event, context: {"ok": True}, headers, event)
    finally:
        sys.stdout, sys.stderr = streams
        ours.close()
        theirs.close()
        _request_id = ""
        if trace is None:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        else:
            os.environ["_X_AMZN_TRACE_ID"] = trace


# Whether this process is a template's clone that asked for its first event before its go line
# (cella_template.py); a function may read it, Cella's tests do.
clone_asked_before_go = False


def serve_clone(api, handler, sock, received=b"", asked=False):
    """A template's clone serves on the connection the agent handed it (`received`: bytes of it
    already read; `asked`: its first /next is sent, its answer is read next); never returns."""
    global clone_asked_before_go
    clone_asked_before_go = asked
    api.sock = sock
    api.buf = bytearray(received)
    api.fixed = True
    try:
        serve(api, handler, asked)
    except (RuntimeAPIError, OSError) as exc:
        sys.stdout.flush()
        sys.stderr.write(f"cella runtime: {exc}\n")
        sys.stdout.flush()
        os._exit(1)
