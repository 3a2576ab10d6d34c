"""eval.remote without a model: the request cache key, request options and messages, and the retry and
concurrency behaviour against a small flaky HTTP server on loopback (fast; the real server tests are in
test_remote.py)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from eval import remote


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503 to the first ``failures`` chat requests, then a completion; counts overlap."""

    failures = 0
    seen: ClassVar[list] = []
    in_flight = 0
    most = 0
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def do_POST(self):
        cls = type(self)
        with cls.lock:
            cls.seen.append(self.path)
            cls.in_flight += 1
            cls.most = max(cls.most, cls.in_flight)
            failing = len(cls.seen) <= cls.failures
        self.rfile.read(int(self.headers["content-length"]))
        time.sleep(0.2)
        body = b'{"detail": "overloaded"}' if failing else json.dumps({
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "好"}, "finish_reason": "stop"}],
        }).encode()
        self.send_response(503 if failing else 200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with cls.lock:
            cls.in_flight -= 1


@pytest.fixture
def flaky():
    _Flaky.seen, _Flaky.most, _Flaky.in_flight = [], 0, 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()


def test_5xx_is_retried_with_backoff_then_succeeds(flaky):
    _Flaky.failures = 2
    replies = []
    remote.complete(flaky, "m", [(7, [{"role": "user", "content": "问"}])], {"max_tokens": 4},
                    lambda i, text: replies.append((i, text)), retries=2)
    assert replies == [(7, "好")] and len(_Flaky.seen) == 3


def test_retries_are_bounded(flaky):
    _Flaky.failures = 100
    with pytest.raises(remote.RemoteError, match=r"HTTP 503: .*overloaded"):
        remote.complete(flaky, "m", [(0, [{"role": "user", "content": "问"}])], {"max_tokens": 4},
                        lambda i, text: None, retries=1)
    assert len(_Flaky.seen) == 2, "one try and one retry, no more"


def test_requests_run_concurrently_up_to_the_limit(flaky):
    _Flaky.failures = 0
    replies = []
    conversations = [(i, [{"role": "user", "content": f"问{i}"}]) for i in range(6)]
    remote.complete(flaky, "m", conversations, {"max_tokens": 4}, lambda i, text: replies.append(i), concurrency=3)
    assert sorted(replies) == list(range(6)) and _Flaky.most == 3
