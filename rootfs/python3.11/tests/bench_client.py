"""Runs Cella's runtime loop with a chosen transport, for the round-trip benchmark
(scripts/bench/runtime.sh starts it inside the rootfs against `fake_api.py --bench`):

    python3 -sB bench_client.py raw|httpclient|floor

raw         cella_runtime as shipped (its own HTTP/1.1 client on a raw socket)
httpclient  the same loop (init, handle, serve) over http.client.HTTPConnection, keep-alive
floor       no runtime at all: a bare GET /next, POST /response loop that parses nothing, to
            show how much of a round trip is the client's own code
"""

import os
import socket
import sys

sys.path.insert(0, os.environ.get("LAMBDA_RUNTIME_DIR", "/var/runtime"))
import cella_runtime  # noqa: E402


class HTTPClientAPI:
    """cella_runtime.RuntimeAPI's interface over http.client (headers handed over as the raw
    client gives them: lowercase bytes)."""

    def __init__(self, address):
        import http.client

        self.conn = http.client.HTTPConnection(address)

    def next(self, asked=False):
        self.conn.request("GET", "/2018-06-01/runtime/invocation/next")
        response = self.conn.getresponse()
        body = response.read()
        return {k.lower().encode(): v.encode() for k, v in response.getheaders()}, body

    def post(self, path, body, content_type=b"application/json", error_type=None):
        headers = {"Content-Type": content_type.decode()}
        if error_type is not None:
            headers["Lambda-Runtime-Function-Error-Type"] = error_type.decode()
        self.conn.request("POST", "/2018-06-01/runtime/" + path.decode(), body, headers)
        response = self.conn.getresponse()
        response.read()
        return response.status


def floor(address):
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    get = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"
    post = (b"POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 4\r\n\r\nnull")
    while True:
        sock.sendall(get)
        if not sock.recv(65536):  # the fake server's answers fit one recv
            return
        sock.sendall(post)
        if not sock.recv(65536):
            return


def main():
    mode = sys.argv[1]
    address = os.environ["AWS_LAMBDA_RUNTIME_API"]
    if mode == "floor":
        floor(address)
        return
    cella_runtime.setup_process(os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))
    api = cella_runtime.RuntimeAPI(address) if mode == "raw" else HTTPClientAPI(address)
    handler = cella_runtime.init(api, os.environ.get("_HANDLER", "app.noop"))
    try:
        cella_runtime.serve(api, handler)
    except (cella_runtime.RuntimeAPIError, OSError, Exception):
        pass  # the benchmark server goes away when it has its count


if __name__ == "__main__":
    main()
