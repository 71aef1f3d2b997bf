"""Cella's Python runtime client against a fake Runtime API: the real bootstrap runs as a
subprocess (the Python running the tests) and talks to fake_api over loopback sockets."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

from fake_api import ARN, FakeRuntimeAPI

BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runtime", "bootstrap")
TIMEOUT = 10


class RuntimeTestCase(unittest.TestCase):
    """Each test writes function code into a fresh task root and starts the runtime on it."""

    def setUp(self):
        self.task = tempfile.TemporaryDirectory()
        self.api = FakeRuntimeAPI(on_post=self._drain_output)
        self.out = bytearray()
        self.proc = None

    def tearDown(self):
        self.stop()
        self.api.close()
        self.task.cleanup()

    def stop(self):
        """Ends the runtime and starts a fresh fake API (a dead runtime's pending /next would
        otherwise take the next test event)."""
        if self.proc:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc.stderr.close()
            self.proc = None
            self.api.close()
            self.api = FakeRuntimeAPI(on_post=self._drain_output)

    def write(self, path, source):
        full = os.path.join(self.task.name, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(textwrap.dedent(source))

    def start(self, handler, **env):
        environ = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": self.task.name,
            "AWS_LAMBDA_FUNCTION_NAME": "echo",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/echo",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/22/[$LATEST]abc",
            "AWS_REGION": "us-east-1",
            "TZ": "UTC",
        }
        environ.update(env)
        self.proc = subprocess.Popen([sys.executable, "-sB", BOOTSTRAP], cwd=self.task.name,
                                     env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.set_blocking(self.proc.stdout.fileno(), False)

    def _drain_output(self, path):
        """Called by the fake server when a POST arrives: what stdout holds at that moment."""
        try:
            while chunk := os.read(self.proc.stdout.fileno(), 65536):
                self.out += chunk
        except BlockingIOError:
            pass
        return bytes(self.out)

    def invoke(self, event=b"{}", **kwargs):
        request_id = self.api.add_event(event, **kwargs)
        post = self.api.wait_post(TIMEOUT)
        self.assertIn(f"/2018-06-01/runtime/invocation/{request_id}/", post.path)
        return post

    def stderr(self):
        self.proc.wait(TIMEOUT)
        return self.proc.stderr.read().decode()


class InvocationTests(RuntimeTestCase):
    def test_success_round_trip(self):
        self.write("app.py", """
            def handler(event, context):
                return {"echo": event, "n": 1}
        """)
        self.start("app.handler")
        for i in range(3):  # the same keep-alive connection serves several invocations
            post = self.invoke({"i": i})
            self.assertTrue(post.path.endswith("/response"))
            self.assertEqual(post.headers["content-type"], "application/json")
            self.assertEqual(post.json(), {"echo": {"i": i}, "n": 1})
        self.assertEqual(len(self.api.connections), 1)

    def test_context_fields(self):
        self.write("app.py", """
            def handler(event, context):
                return {k: getattr(context, k) for k in (
                    "function_name", "function_version", "invoked_function_arn",
                    "memory_limit_in_mb", "aws_request_id", "log_group_name", "log_stream_name")} | {
                    "remaining": context.get_remaining_time_in_millis(),
                    "identity": [context.identity.cognito_identity_id,
                                 context.identity.cognito_identity_pool_id],
                    "client": None if context.client_context is None else [
                        context.client_context.custom, context.client_context.env,
                        context.client_context.client.app_title],
                }
        """)
        self.start("app.handler")
        deadline = int(time.time() * 1000) + 5000
        post = self.invoke(deadline_ms=deadline, request_id="rid-1", headers={
            "Lambda-Runtime-Cognito-Identity":
                '{"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}',
            "Lambda-Runtime-Client-Context":
                '{"custom": {"a": 1}, "env": {"b": "2"}, "client": {"app_title": "t"}}'})
        got = post.json()
        self.assertEqual(got["function_name"], "echo")
        self.assertEqual(got["function_version"], "$LATEST")
        self.assertEqual(got["invoked_function_arn"], ARN)
        self.assertEqual(got["memory_limit_in_mb"], 128)
        self.assertEqual(got["aws_request_id"], "rid-1")
        self.assertEqual(got["log_group_name"], "/aws/lambda/echo")
        self.assertEqual(got["log_stream_name"], "2026/11/22/[$LATEST]abc")
        self.assertTrue(3000 < got["remaining"] <= 5000, got["remaining"])
        self.assertEqual(got["identity"], ["id-1", "pool-1"])
        self.assertEqual(got["client"], [{"a": 1}, {"b": "2"}, "t"])
        # Without the optional headers: an empty identity, no client context; a past deadline
        # reads 0.
        got = self.invoke(deadline_ms=int(time.time() * 1000) - 10).json()
        self.assertEqual(got["remaining"], 0)
        self.assertEqual(got["identity"], [None, None])
        self.assertIsNone(got["client"])

    def test_json_event_and_other_content_types(self):
        self.write("app.py", """
            def handler(event, context):
                return [type(event).__name__, event if isinstance(event, dict) else event.decode()]
        """)
        self.start("app.handler")
        self.assertEqual(self.invoke(b'{"a": 1}').json(), ["dict", {"a": 1}])
        # awslambdaric decodes only for exactly application/json; anything else is bytes.
        self.assertEqual(self.invoke(b'{"a": 1}', content_type="text/plain").json(),
                         ["bytes", '{"a": 1}'])
        self.assertEqual(self.invoke(b"raw", content_type=None).json(), ["bytes", "raw"])

    def test_str_and_bytes_results(self):
        self.write("app.py", """
            def handler(event, context):
                return event["s"] if "s" in event else event["b"].encode()
        """)
        self.start("app.handler")
        post = self.invoke({"s": "héllo"})
        self.assertEqual(post.body, b'"h\\u00e9llo"')  # a JSON string, ASCII as on 3.11
        post = self.invoke({"b": "raw bytes"})
        self.assertEqual(post.body, b"raw bytes")
        self.assertEqual(post.headers["content-type"], "application/unknown")

    def test_chunked_and_large_events(self):
        self.write("app.py", """
            def handler(event, context):
                return len(event["data"])
        """)
        self.start("app.handler")
        self.assertEqual(self.invoke({"data": "x" * 1000}, chunked=True).json(), 1000)
        # Larger than one recv: read straight into a buffer of the body's size.
        self.assertEqual(self.invoke({"data": "y" * 3_000_000}).json(), 3_000_000)
        self.assertEqual(self.invoke({"data": "z" * 300_000}, chunked=True).json(), 300_000)

    def test_reconnects_when_the_server_closed_an_idle_connection(self):
        self.write("app.py", """
            def handler(event, context):
                return event
        """)
        self.start("app.handler")
        self.assertEqual(self.invoke({"n": 1}, close=True).json(), {"n": 1})
        self.assertEqual(self.invoke({"n": 2}).json(), {"n": 2})
        self.assertEqual(len(self.api.connections), 2)

    def test_handler_exception(self):
        self.write("app.py", """
            def helper():
                raise ValueError("boom")

            def handler(event, context):
                if event.get("fail"):
                    helper()
                return "fine"
        """)
        self.start("app.handler")
        post = self.invoke({"fail": True}, request_id="rid-err")
        self.assertTrue(post.path.endswith("/rid-err/error"), post.path)
        self.assertEqual(post.headers["lambda-runtime-function-error-type"], "ValueError")
        body = post.json()
        self.assertEqual(list(body), ["errorMessage", "errorType", "requestId", "stackTrace"])
        self.assertEqual(body["errorMessage"], "boom")
        self.assertEqual(body["errorType"], "ValueError")
        self.assertEqual(body["requestId"], "rid-err")
        # The handler's frames only, formatted as traceback.format_list does.
        self.assertEqual(len(body["stackTrace"]), 2)
        self.assertRegex(body["stackTrace"][0], r'^  File ".*app\.py", line \d+, in handler\n')
        self.assertIn("raise ValueError", body["stackTrace"][1])
        # The runtime carries on.
        self.assertEqual(self.invoke({}).json(), "fine")
        self.proc.terminate()
        self.assertRegex(self.stderr(), "\\[ERROR\\] ValueError: boom\rTraceback \\(most recent call last\\):\r")

    def test_unserialisable_result_is_a_marshal_error(self):
        self.write("app.py", """
            def handler(event, context):
                return {1, 2}
        """)
        self.start("app.handler")
        post = self.invoke()
        self.assertTrue(post.path.endswith("/error"))
        self.assertEqual(post.headers["lambda-runtime-function-error-type"], "Runtime.MarshalError")
        self.assertEqual(post.json()["errorMessage"],
                         "Unable to marshal response: Object of type set is not JSON serializable")
        self.assertEqual(post.json()["stackTrace"], [])

    def test_invalid_event_and_context_json(self):
        self.write("app.py", """
            def handler(event, context):
                return "unreachable"
        """)
        self.start("app.handler")
        post = self.invoke(b"{not json")
        self.assertEqual(post.json()["errorType"], "Runtime.UnmarshalError")
        post = self.invoke(headers={"Lambda-Runtime-Client-Context": "{bad"})
        self.assertEqual(post.json()["errorType"], "Runtime.LambdaContextUnmarshalError")
        self.assertTrue(post.json()["errorMessage"].startswith("Unable to parse Client Context JSON"))

    def test_output_is_flushed_before_the_response(self):
        self.write("app.py", """
            def handler(event, context):
                print("line one")
                print("no newline yet", end="")
                return "done"
        """)
        self.start("app.handler")
        post = self.invoke()
        self.assertEqual(post.json(), "done")
        # What stdout held when the response arrived at the server.
        self.assertIn(b"line one\nno newline yet", post.seen)

    def test_handler_forms_and_import_path(self):
        self.write("pkg/__init__.py", "")
        self.write("pkg/sub/__init__.py", "")
        self.write("pkg/sub/mod.py", """
            import csv       # the task root comes before the standard library, as on Lambda
            import vendored  # installed in the task root, as pip install --target does
            def handler(event, context):
                import sys
                return [vendored.NAME, csv.NAME, sys.path[0]]
        """)
        self.write("vendored/__init__.py", "NAME = 'vendored'\n")
        self.write("csv.py", "NAME = 'task root csv'\n")
        for spec in ("pkg/sub/mod.handler", "pkg.sub.mod.handler"):
            with self.subTest(spec=spec):
                self.start(spec)
                self.assertEqual(self.invoke().json(),
                                 ["vendored", "task root csv", self.task.name])
                self.stop()

    def test_logging_gets_lambdas_format(self):
        self.write("app.py", """
            import logging
            logging.getLogger().setLevel(logging.INFO)
            def handler(event, context):
                logging.info("hello from %s", "logging")
                return 1
        """)
        self.start("app.handler")
        post = self.invoke(request_id="rid-log")
        self.assertRegex(post.seen.decode(),
                         r"\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\trid-log\thello from logging\n")

    def test_sigterm_exits_promptly(self):
        self.write("app.py", "def handler(event, context):\n    return 1\n")
        self.start("app.handler")
        self.assertEqual(self.invoke().json(), 1)  # now blocked in GET /next
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(TIMEOUT), 128 + signal.SIGTERM)
        self.assertLess(time.monotonic() - started, 2)


class InitErrorTests(RuntimeTestCase):
    def assertInitError(self, handler, error_type, message):
        self.start(handler)
        post = self.api.wait_post(TIMEOUT)
        self.assertEqual(post.path, "/2018-06-01/runtime/init/error")
        self.assertEqual(post.headers["lambda-runtime-function-error-type"], error_type)
        body = post.json()
        self.assertEqual(body["errorType"], error_type)
        self.assertEqual(body["errorMessage"], message)
        self.assertIsInstance(body["stackTrace"], list)
        self.assertEqual(self.proc.wait(TIMEOUT), 1)
        self.assertIn("[ERROR] " + error_type, self.stderr())
        return body

    def test_missing_module(self):
        self.assertInitError("nothere.handler", "Runtime.ImportModuleError",
                             "Unable to import module 'nothere': No module named 'nothere'")

    def test_module_importing_a_missing_module(self):
        self.write("app.py", "import not_installed\n")
        self.assertInitError("app.handler", "Runtime.ImportModuleError",
                             "Unable to import module 'app': No module named 'not_installed'")

    def test_missing_function(self):
        self.write("app.py", "def other(event, context):\n    pass\n")
        self.assertInitError("app.handler", "Runtime.HandlerNotFound",
                             "Handler 'handler' missing on module 'app'")

    def test_syntax_error(self):
        self.write("app.py", "def handler(event, context)\n    return 1\n")
        body = self.assertInitError("app.handler", "Runtime.UserCodeSyntaxError",
                                    "Syntax error in module 'app': expected ':' (app.py, line 1)")
        self.assertRegex(body["stackTrace"][0], r'^  File ".*app\.py" Line 1\n    def handler')

    def test_malformed_handler_name(self):
        self.assertInitError("nodot", "Runtime.MalformedHandlerName",
                             "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)")

    def test_builtin_module_conflict(self):
        self.assertInitError("sys.handler", "Runtime.BuiltInModuleConflict",
                             "Cannot use built-in module sys as a handler module")

    def test_exception_while_importing(self):
        self.write("app.py", "raise KeyError('config')\n")
        body = self.assertInitError("app.handler", "KeyError", "'config'")
        self.assertRegex(body["stackTrace"][-1], r'app\.py", line 1, in <module>')


if __name__ == "__main__":
    unittest.main()
