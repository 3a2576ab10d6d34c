"""Scale-out: one model served by several replicas (``tuned=http://a/v1,http://b/v1``). Requests spread over
them, each with its own concurrency; a failing replica's requests go to the others."""

import json
import threading
import time
from http.server import ThreadingHTTPServer

import pytest

from eval import remote
from eval.models import ModelSpec, ModelSpecError, replicas, resolve
from eval.predict import GenerationSettings, read_predictions
from tests.serving import StubHandler, chat_completion, free_port, models_list


class _Replica(ThreadingHTTPServer):
    """A fake replica: answers each chat request with its prompt (after ``delay``), or 503 while ``failing``;
    counts requests and the most it had in flight at once."""

    def __init__(self, delay=0.05, failing=False, name="m"):
        self.delay, self.failing, self.seen, self.in_flight, self.most = delay, failing, 0, 0, 0
        self.name = name
        self.lock = threading.Lock()
        outer = self

        class Handler(StubHandler):
            def do_GET(self):
                self.send_body(models_list(outer.name))

            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with outer.lock:
                    outer.seen += 1
                    outer.in_flight += 1
                    outer.most = max(outer.most, outer.in_flight)
                time.sleep(outer.delay)
                with outer.lock:
                    outer.in_flight -= 1
                if outer.failing:
                    self.send_body({"detail": "down"}, status=503)
                else:
                    self.send_body(chat_completion("答：" + request["messages"][-1]["content"]))

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_port}/v1"

    def handle_error(self, request, client_address):
        pass


@pytest.fixture
def pair():
    servers = [_Replica(), _Replica()]
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


RECORDS = [{"instruction": f"问题{i}", "input": "", "output": "答"} for i in range(12)]


def test_a_model_may_be_several_urls():
    spec = resolve("tuned", "http://b:8000/v1/,http://a:8000/v1#m")
    assert spec.endpoint == "http://a:8000/v1,http://b:8000/v1" and spec.model == "m"
    assert replicas(spec.endpoint) == ["http://a:8000/v1", "http://b:8000/v1"]
    with pytest.raises(ModelSpecError, match=r"'ftp://c' .* is not an http"):
        resolve("tuned", "http://a:8000/v1,ftp://c")


def test_requests_spread_over_replicas_each_with_its_own_concurrency(pair, tmp_path):
    spec = ModelSpec("tuned", "m", endpoint=",".join(s.url for s in pair))
    got = remote.generate(spec, RECORDS, tmp_path / "p.jsonl", GenerationSettings(max_new_tokens=4), concurrency=2)
    assert got == [f"答：问题{i}" for i in range(12)]
    assert sum(s.seen for s in pair) == 12 and all(s.seen >= 2 for s in pair)
    assert all(s.most <= 2 for s in pair) and max(s.most for s in pair) == 2


def test_a_failing_replica_s_requests_go_to_the_others(pair, tmp_path, monkeypatch):
    monkeypatch.setattr(remote, "BACKOFF", 0.01)
    pair[0].failing = True
    spec = ModelSpec("tuned", "m", endpoint=",".join(s.url for s in pair))
    got = remote.generate(spec, RECORDS, tmp_path / "p.jsonl", GenerationSettings(max_new_tokens=4), concurrency=3)
    assert got == [f"答：问题{i}" for i in range(12)]
    # Taken out after retries + 1 = 4 failures in a row; its other 2 workers had a request in flight then.
    assert pair[0].seen <= 4 + 2
    assert len(read_predictions(tmp_path / "p.jsonl")) == 12


def test_a_replica_that_is_not_there_is_left_to_the_others(pair, tmp_path, monkeypatch):
    monkeypatch.setattr(remote, "BACKOFF", 0.01)
    dead = f"http://127.0.0.1:{free_port()}/v1"
    spec = resolve("tuned", f"{pair[1].url},{dead}")
    got = remote.generate(spec, RECORDS[:4], tmp_path / "p.jsonl", GenerationSettings(max_new_tokens=4))
    assert got == [f"答：问题{i}" for i in range(4)] and pair[1].seen == 4


def test_when_every_replica_fails_it_is_one_line(pair, monkeypatch):
    monkeypatch.setattr(remote, "BACKOFF", 0.01)
    for server in pair:
        server.failing = True
    endpoint = ",".join(s.url for s in pair)
    with pytest.raises(remote.RemoteError, match=r"HTTP 503: .*down.* \(4 tries\); nothing was saved for it"):
        remote.complete(endpoint, "m", [(0, [{"role": "user", "content": "问"}])], {"max_tokens": 4},
                        lambda i, text: None, retries=1)


def test_replicas_serving_different_models_are_refused(pair):
    other = _Replica(name="other")
    try:
        with pytest.raises(remote.RemoteError, match="the replicas serve different models"):
            remote.served_model(f"{pair[0].url},{other.url}")
    finally:
        other.shutdown()
        other.server_close()
