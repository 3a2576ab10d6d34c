"""eval.remote without a model: the request cache key, request options and messages, and the retry and
concurrency behaviour against a small flaky HTTP server on loopback (fast; the real server tests are in
test_remote.py)."""

import json
import threading
import time
from http.server import ThreadingHTTPServer
from typing import ClassVar

import pytest

from eval import remote
from eval.predict import GenerationSettings
from tests.serving import StubHandler, chat_completion

#: A literal, not request_options(...): a value computed at import would hide its mutants (mutmut forks later).
GREEDY = {"max_tokens": 8, "temperature": 0.0}
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
    assert remote.request_options(GenerationSettings(max_new_tokens=8)) == GREEDY
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


class _Flaky(StubHandler):
    """Answers 503 to the first ``failures`` chat requests, then a completion; counts overlap."""

    failures = 0
    seen: ClassVar[list] = []
    in_flight = 0
    most = 0
    lock = threading.Lock()

    def do_POST(self):
        cls = type(self)
        with cls.lock:
            cls.seen.append(self.path)
            cls.in_flight += 1
            cls.most = max(cls.most, cls.in_flight)
            failing = len(cls.seen) <= cls.failures
        self.rfile.read(int(self.headers["content-length"]))
        time.sleep(0.2)
        self.send_body({"detail": "overloaded"} if failing else chat_completion("好"), status=503 if failing else 200)
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
    assert replies[0][1].finish_reason == "stop", "the server's finish_reason comes with the reply"


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


class _Recorder(StubHandler):
    """Answers every chat request with a completion and keeps each request's headers; with ``redirect`` set,
    answers 307 to another path instead; with ``delay``, answers that many seconds late."""

    headers_seen: ClassVar[list] = []
    bodies: ClassVar[list] = []
    redirect = False
    delay = 0.0
    fail_first = 0  # answer 503 (with a two-line body) to this many requests
    choices: ClassVar[list | None] = None  # the completion's choices, when not the default one

    def do_POST(self):
        cls = type(self)
        cls.headers_seen.append({k.lower(): v for k, v in self.headers.items()})
        cls.bodies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
        if len(cls.bodies) <= cls.fail_first:
            self.send_body("第一行\n" + "长" * 400, status=503, content_type="text/plain; charset=utf-8")
            return
        if cls.redirect and self.path.endswith("/chat/completions"):
            self.send_response(307)
            self.send_header("location", "/v1/elsewhere/chat/completions")
            self.send_header("content-length", "0")
            self.end_headers()
            return
        time.sleep(cls.delay)
        completion = chat_completion("好")
        self.send_body(completion if cls.choices is None else {**completion, "choices": cls.choices})


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping for a timed-out client does not hold up shutdown

    def handle_error(self, request, client_address):
        pass  # the timed-out client hung up: expected, not worth a traceback


@pytest.fixture
def recorder(monkeypatch):
    for name in ("MEDFT_API_KEY", "OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_ADMIN_KEY",
                 "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    _Recorder.headers_seen, _Recorder.bodies, _Recorder.redirect, _Recorder.delay = [], [], False, 0.0
    _Recorder.fail_first, _Recorder.choices = 0, None
    server = _QuietServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()


def _ask(url, **kwargs):
    replies = []
    remote.complete(url, "m", [(0, MESSAGES)], {"max_tokens": 4}, lambda i, text: replies.append(text), **kwargs)
    return replies


def test_credentials_come_from_medft_api_key_only(recorder, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret")
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-secret")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-secret")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-secret")
    assert _ask(recorder) == ["好"]
    sent = _Recorder.headers_seen[-1]
    assert sent["authorization"] == "Bearer EMPTY"
    assert not sent.get("openai-organization") and not sent.get("openai-project")
    assert not any("secret" in value for value in sent.values()), sent
    monkeypatch.setenv("MEDFT_API_KEY", "medft-key")
    _ask(recorder)
    assert _Recorder.headers_seen[-1]["authorization"] == "Bearer medft-key"


def test_no_proxy_from_the_environment(recorder, monkeypatch):
    # A proxy that does not exist: a client that honoured the environment could not reach the server.
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    assert _ask(recorder, retries=0) == ["好"]


def test_redirects_are_not_followed(recorder):
    _Recorder.redirect = True
    with pytest.raises(remote.RemoteError, match="HTTP 307"):
        _ask(recorder, retries=0)
    assert len(_Recorder.headers_seen) == 1, "the request went to the given endpoint only"


def test_a_slow_answer_times_out_as_one_clear_line(recorder):
    _Recorder.delay = 1.5
    with pytest.raises(remote.RemoteError, match=r"did not answer within 0.3 s \(raise --request-timeout"):
        _ask(recorder, timeout=0.3, retries=0)


def test_the_request_carries_model_messages_and_options(recorder):
    replies = []
    conversations = [(3, MESSAGES), (5, [{"role": "user", "content": "问2"}])]
    remote.complete(recorder, "served-name", conversations, {"max_tokens": 4, "temperature": 0.0},
                    lambda i, text: replies.append((i, text)), concurrency=1)
    assert sorted(replies) == [(3, "好"), (5, "好")]
    assert sorted(_Recorder.bodies, key=lambda b: b["messages"][0]["content"]) == [
        {"model": "served-name", "messages": MESSAGES, "max_tokens": 4, "temperature": 0.0},
        {"model": "served-name", "messages": [{"role": "user", "content": "问2"}], "max_tokens": 4,
         "temperature": 0.0}]


@pytest.mark.parametrize("choices", [[], [{"index": 0, "message": {"role": "assistant", "content": None},
                                          "finish_reason": "stop"}]])
def test_no_answer_is_a_failed_request_never_an_empty_text(recorder, choices):
    # No choices or content: null is not an answer: one clear error, nothing handed on to be cached.
    _Recorder.choices = choices
    with pytest.raises(remote.RemoteError, match=r"without a usable completion.*nothing was saved for it"):
        _ask(recorder, retries=0)


def test_an_error_names_the_request_and_endpoint_on_one_line(recorder):
    _Recorder.fail_first = 1
    with pytest.raises(remote.RemoteError) as info:
        _ask(recorder, retries=0)
    message = str(info.value)
    assert message.startswith(f"request 0: {recorder} answered HTTP 503: 第一行 长长")
    assert "\n" not in message and message.count("长") == 300 - len("第一行 ")  # the body, cut at 300 characters


def test_a_failure_cancels_the_rest_and_raises_the_remote_error(recorder):
    _Recorder.fail_first, _Recorder.delay = 1, 1.0
    conversations = [(i, [{"role": "user", "content": f"问{i}"}]) for i in range(4)]
    with pytest.raises(remote.RemoteError, match=r"^request "):
        remote.complete(recorder, "m", conversations, {"max_tokens": 4}, lambda i, text: None, concurrency=2,
                        retries=0)
    time.sleep(1.2)
    assert len(_Recorder.bodies) <= 3, "nothing more is sent once a request has failed"


def test_completion_text_reads_the_first_choice_and_names_what_is_wrong_otherwise():
    from types import SimpleNamespace

    def choice(content, reason="stop"):
        return SimpleNamespace(message=SimpleNamespace(content=content), finish_reason=reason)

    reply = remote.completion_text(SimpleNamespace(choices=[choice("好", "length"), choice("坏")]))
    assert reply == "好" and reply.finish_reason == "length"
    assert remote.completion_text(SimpleNamespace(choices=[choice("")])) == ""  # an empty answer is an answer
    cases = [
        ("<html>busy</html>", "the body is not a chat completion ('<html>busy</html>')"),
        ("x" * 200, f"the body is not a chat completion ({'x' * 120!r})"),
        (SimpleNamespace(), "the body is not a chat completion ('SimpleNamespace')"),
        (SimpleNamespace(choices="no"), "the body is not a chat completion ('SimpleNamespace')"),
        (SimpleNamespace(choices=[]), "'choices' is empty"),
        (SimpleNamespace(choices=[choice(None)]), "the first choice has no message content (content: null)"),
        (SimpleNamespace(choices=[SimpleNamespace()]), "the first choice has no message content (content: null)"),
    ]
    for response, message in cases:
        with pytest.raises(remote.BadReply) as info:
            remote.completion_text(response)
        assert str(info.value) == message
