"""`make serve` says "serving" only when its own child answers: a server that took the port while ours was
loading does not count (real processes and sockets on loopback)."""

import json
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from recipes import serve
from tests.serving import free_port

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ownership is read from /proc")

MODELS = json.dumps({"object": "list", "data": [{"id": "tiny", "object": "model"}]}).encode()


class _Models(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("content-length", str(len(MODELS)))
        self.end_headers()
        self.wfile.write(MODELS)


CHILD_SERVER = textwrap.dedent("""
    import json, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer
    body = json.dumps({"object": "list", "data": [{"id": "mine", "object": "model"}]}).encode()
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_GET(self):
            self.send_response(200); self.send_header("content-length", str(len(body))); self.end_headers()
            self.wfile.write(body)
    HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
""")


@pytest.fixture
def stranger():
    """Another server answering /v1/models on a free port (as the winner of a race would)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Models)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_port
    httpd.shutdown()
    httpd.server_close()


def _plan(port):
    return serve.ServePlan({}, "127.0.0.1", port, "tiny")


def test_an_answer_from_another_server_is_not_ours(stranger):
    # Our "server" loads for a moment, then fails to bind (as the loser of the race does) and exits 1.
    child = subprocess.Popen([sys.executable, "-c", "import time, sys; time.sleep(1.5); sys.exit(1)"])
    assert serve.owns_port(child.pid, stranger) is False
    with pytest.raises(serve.ServeError) as info:
        serve.wait_ready(child, _plan(stranger), timeout=60)
    assert str(info.value) == (f"port {stranger} on 127.0.0.1 was taken by another server while this one was "
                               "loading; this one exited with code 1. Stop the other server or choose another PORT=")


def test_a_stranger_answering_until_the_timeout_is_named(stranger):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(serve.ServeError, match=f"port {stranger} on 127.0.0.1 is answered by another server"):
            serve.wait_ready(child, _plan(stranger), timeout=1.5)
    finally:
        child.kill()
        child.wait()


def test_our_own_child_answering_is_ready():
    port = free_port()
    child = subprocess.Popen([sys.executable, "-c", CHILD_SERVER, str(port)])
    try:
        assert serve.wait_ready(child, _plan(port), timeout=60) == ["mine"]
        assert serve.owns_port(child.pid, port) is True
    finally:
        child.kill()
        child.wait()
