"""A bad server reply is never stored as an answer: real HTTP servers on loopback that answer 200 without a
completion, with a body that is not JSON, or never answer at all."""

import json
import threading
import time
from http.server import ThreadingHTTPServer
from typing import ClassVar

import pytest

from eval import remote
from eval.models import ModelSpec
from eval.predict import GenerationSettings, read_predictions
from tests.serving import StubHandler, chat_completion, models_list

GOOD = chat_completion("好")
BODIES = {
    "no choices": json.dumps({**GOOD, "choices": []}),
    "null content": json.dumps({**GOOD, "choices": [{"index": 0, "message": {"role": "assistant", "content": None},
                                                     "finish_reason": "stop"}]}),
    "not json": "<html>502 bad gateway</html>",
    "json list": "[1, 2]",
}


class _Server(StubHandler):
    """Answers chat requests with ``bodies[n]`` for the n-th request (the last one repeats); lists model m."""

    bodies: ClassVar[list] = []
    seen: ClassVar[list] = []
    delay = 0.0
    lock = threading.Lock()

    def do_GET(self):
        self.send_body(models_list())

    def do_POST(self):
        cls = type(self)
        self.rfile.read(int(self.headers["content-length"]))
        with cls.lock:
            cls.seen.append(self.path)
            body = cls.bodies[min(len(cls.seen), len(cls.bodies)) - 1]
        time.sleep(cls.delay)
        self.send_body(body)


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that gave up (timeout test) closes the socket before the answer: not a failure here


@pytest.fixture
def server():
    _Server.bodies, _Server.seen, _Server.delay = [], [], 0.0
    httpd = _Quiet(("127.0.0.1", 0), _Server)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/v1"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def fast_backoff(monkeypatch):
    monkeypatch.setattr(remote, "BACKOFF", 0.01)


RECORDS = [{"instruction": f"问题{i}", "input": "", "output": "答"} for i in range(3)]


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_a_200_without_a_completion_is_retried_then_one_error_and_never_cached(server, fast_backoff, tmp_path, kind):
    _Server.bodies = [BODIES[kind]]
    path = tmp_path / "p.jsonl"
    spec = ModelSpec("tuned", "m", endpoint=server)
    with pytest.raises(remote.RemoteError) as info:
        remote.generate(spec, RECORDS[:1], path, GenerationSettings(max_new_tokens=4), retries=2)
    message = str(info.value)
    assert "\n" not in message and f"{server} answered HTTP 200 without a usable completion" in message
    assert "(3 tries); nothing was saved for it" in message
    assert len(_Server.seen) == 3 and read_predictions(path) == {}
    # The server recovers: the rerun asks again (nothing wrong was cached) and keeps the real answer.
    _Server.bodies, _Server.seen = [json.dumps(GOOD)], []
    assert remote.generate(spec, RECORDS, path, GenerationSettings(max_new_tokens=4)) == ["好"] * 3
    assert len(_Server.seen) == 3


def test_a_bad_reply_that_recovers_is_retried_and_counted(server, fast_backoff):
    _Server.bodies = [BODIES["no choices"], BODIES["not json"], json.dumps(GOOD)]
    replies, status = [], []
    remote.complete(server, "m", [(5, [{"role": "user", "content": "问"}])], {"max_tokens": 4},
                    lambda i, text: replies.append((i, text)), retries=3, on_status=lambda *s: status.append(s))
    assert replies == [(5, "好")] and len(_Server.seen) == 3
    assert status[-1] == (0, 2, 1), "in flight, retried, done"
    assert max(s[0] for s in status) == 1


def test_an_empty_string_is_an_answer(server):
    _Server.bodies = [json.dumps({**GOOD, "choices": [{"index": 0, "message": {"role": "assistant", "content": ""},
                                                      "finish_reason": "stop"}]})]
    replies = []
    remote.complete(server, "m", [(0, [{"role": "user", "content": "问"}])], {"max_tokens": 4},
                    lambda i, text: replies.append(text))
    assert replies == [""] and len(_Server.seen) == 1


def test_a_server_that_never_answers_times_out_with_the_option_named(server, fast_backoff, tmp_path):
    _Server.bodies, _Server.delay = [json.dumps(GOOD)], 5.0
    with pytest.raises(remote.RemoteError, match=r"did not answer within 0\.3 s \(raise --request-timeout / "
                                                 r"REQUEST_TIMEOUT= for slow servers\) \(2 tries\)"):
        remote.complete(server, "m", [(0, [{"role": "user", "content": "问"}])], {"max_tokens": 4},
                        lambda i, text: None, timeout=0.3, retries=1)
    assert len(_Server.seen) == 2


def test_a_non_positive_timeout_is_refused():
    with pytest.raises(remote.RemoteError, match="must be positive"):
        remote.complete("http://127.0.0.1:9/v1", "m", [(0, [])], {}, lambda i, t: None, timeout=0)


def test_a_second_eval_on_the_same_predictions_waits_and_reuses_them(server, tmp_path):
    """One lock per OUT/model/dataset file: the second writer waits, then finds every answer cached."""
    from eval.pipeline import predictions_lock

    _Server.bodies, _Server.delay = [json.dumps(GOOD)], 0.3
    path = tmp_path / "predictions" / "tuned" / "med_dialog_test.jsonl"
    spec = ModelSpec("tuned", "m", endpoint=server)
    results, waited = {}, threading.Event()

    def run(name):
        with predictions_lock(path, on_wait=waited.set):
            results[name] = remote.generate(spec, RECORDS, path, GenerationSettings(max_new_tokens=4))

    first = threading.Thread(target=run, args=("first",))
    first.start()
    while not path.exists():
        time.sleep(0.01)
    second = threading.Thread(target=run, args=("second",))
    second.start()
    first.join()
    second.join()
    assert waited.is_set() and results["first"] == results["second"] == ["好"] * 3
    assert len(_Server.seen) == 3, "every request sent once"


@pytest.mark.slow
def test_two_eval_runs_on_one_out_send_each_request_once(server, tmp_path):
    import os
    import subprocess
    import sys

    from tests.datasets import write_dataset_dir

    _Server.bodies, _Server.delay = [json.dumps(GOOD)], 0.2
    data = write_dataset_dir(tmp_path / "data", {"med_dialog_test": ("d.jsonl", [
        {"instruction": f"主题：{i}", "input": "", "output": "答"} for i in range(6)])})
    command = [sys.executable, "-m", "eval", "run", "--model", f"tuned={server}#m", "--dataset", "med_dialog_test",
               "--dataset-dir", str(data), "--out", str(tmp_path / "out"), "--predict-only", "--concurrency", "2"]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=240)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert len(_Server.seen) == 6, outputs


def test_make_passes_template_max_new_tokens_and_request_timeout():
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}

    def shown(*args):
        return subprocess.run(["make", "-n", *args, "VENV=/nonexistent"], capture_output=True, text=True, env=env,
                              check=True).stdout

    for target in ("eval", "exams"):
        given = shown(target, "MODELS=t=runs/x", "TEMPLATE=llama3", "MAX_NEW_TOKENS=512", "REQUEST_TIMEOUT=60")
        assert "--template llama3" in given and "--max-new-tokens 512" in given and "--request-timeout 60" in given
        default = shown(target, "MODELS=t=runs/x")
        assert "--template" not in default and "--max-new-tokens" not in default  # a run keeps its own template
    assert "--request-timeout 5" in shown("judge", "JUDGE=x", "REQUEST_TIMEOUT=5")
