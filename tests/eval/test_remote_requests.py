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
from eval.predict import GenerationSettings

GREEDY = remote.request_options(GenerationSettings(max_new_tokens=8))
MESSAGES = [{"role": "user", "content": "问"}]


def test_messages_join_instruction_and_input_and_keep_history_and_system():
    record = {"instruction": "原始词：头疼", "input": "补充", "system": "你是专家。",
              "history": [["问一", "答一"], ["问二", "答二"]]}
    assert remote.messages_for(record) == [
        {"role": "system", "content": "你是专家。"},
        {"role": "user", "content": "问一"}, {"role": "assistant", "content": "答一"},
        {"role": "user", "content": "问二"}, {"role": "assistant", "content": "答二"},
        {"role": "user", "content": "原始词：头疼\n补充"},
    ]
    # A given system prompt wins over the record's; no system, no input, no history: one user turn.
    assert remote.messages_for(record, system="别的")[0] == {"role": "system", "content": "别的"}
    assert remote.messages_for({"instruction": "问", "input": "", "history": None}) == MESSAGES
    assert remote.messages_for({"instruction": "", "input": "只有输入"}) == [{"role": "user", "content": "只有输入"}]


def test_request_options_greedy_sampled_and_repetition_penalty():
    assert GREEDY == {"max_tokens": 8, "temperature": 0.0}
    sampled = remote.request_options(GenerationSettings(max_new_tokens=5, do_sample=True, temperature=0.7,
                                                        top_p=0.9, seed=3, repetition_penalty=1.2))
    assert sampled == {"max_tokens": 5, "temperature": 0.7, "top_p": 0.9, "seed": 3,
                       "extra_body": {"repetition_penalty": 1.2}}


def test_request_key_is_a_sha1_of_exactly_its_four_parts():
    import hashlib
    import json

    key = remote.request_key("http://h:1/v1", "m", MESSAGES, GREEDY)
    payload = json.dumps(["http://h:1/v1", "m", MESSAGES, GREEDY], ensure_ascii=False, sort_keys=True)
    assert key == hashlib.sha1(payload.encode()).hexdigest()
    assert key == remote.request_key("http://h:1/v1", "m", [dict(reversed(MESSAGES[0].items()))],
                                     dict(reversed(GREEDY.items())))  # key order does not matter


@pytest.mark.parametrize("change", ["endpoint", "served", "messages", "system", "options", "seed"])
def test_request_key_changes_with_every_field_that_changes_the_answer(change):
    parts = {"endpoint": "http://h:1/v1", "served": "m", "messages": MESSAGES, "options": GREEDY}
    base = remote.request_key(**parts)
    changed = dict(parts)
    if change == "endpoint":
        changed["endpoint"] = "http://h:2/v1"
    elif change == "served":
        changed["served"] = "m2"
    elif change == "messages":
        changed["messages"] = [{"role": "user", "content": "问2"}]
    elif change == "system":
        changed["messages"] = [{"role": "system", "content": "s"}, *MESSAGES]
    elif change == "options":
        changed["options"] = remote.request_options(GenerationSettings(max_new_tokens=9))
    else:
        changed["options"] = remote.request_options(GenerationSettings(max_new_tokens=8, do_sample=True, seed=1))
        parts["options"] = remote.request_options(GenerationSettings(max_new_tokens=8, do_sample=True, seed=2))
        base = remote.request_key(**parts)
    assert remote.request_key(**changed) != base


def test_complete_refuses_zero_concurrency_and_skips_an_empty_batch():
    with pytest.raises(ValueError, match=r"^concurrency must be at least 1$"):
        remote.complete("http://127.0.0.1:1/v1", "m", [(0, MESSAGES)], {}, lambda i, t: None, concurrency=0)
    # Nothing to send: no connection is attempted (port 1 would refuse it).
    remote.complete("http://127.0.0.1:1/v1", "m", [], {}, lambda i, t: None)


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
