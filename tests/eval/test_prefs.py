"""eval.prefs: pairs from graded exam samples and from swap-consistent judge verdicts; refusals."""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer
from typing import ClassVar

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from bridge.registry import MANIFEST_NAME
from eval.cli import eval_group
from eval.judge.report import judgement_line, read_judgements
from eval.judge.run import Call, Outcome
from eval.models import ModelSpec
from eval.predict import GenerationSettings
from eval.prefs import PrefsError, Sampling, exam_pairs, exam_preferences, judge_pairs, judge_preferences
from tests.datasets import write_dataset_dir
from tests.serving import StubHandler, chat_completion, models_list


def _question(stem: str, answer: str) -> dict:
    return {"instruction": f"以下是一道单项选择题。\n{stem}\nA. 甲\nB. 乙\nC. 丙\nD. 丁", "input": "", "output": answer}


QUESTIONS = [_question("第一题", "A"), _question("第二题", "B"), _question("第三题", "C"),
             {"instruction": "没有选项的题目", "input": "", "output": "A"}]


def test_a_question_with_a_right_and_a_wrong_sample_gives_one_pair():
    samples = [["A", "B", "答案：A", "A"],    # sample 0
               ["答案是C", "B", "我不知道", "B"],  # sample 1
               ["A", "B", "C", "A"]]          # sample 2
    pairs, dropped = exam_pairs(QUESTIONS, samples)
    # Q1: right in 0 and 2, wrong in 1 -> chosen the first right (sample 0), rejected the first wrong (sample 1).
    # Q2: right in every sample. Q3: "答案：A" wrong, "我不知道" has no letter (wrong, as eval scores it), "C" right.
    assert pairs == [
        {"instruction": QUESTIONS[0]["instruction"], "input": "", "chosen": "A", "rejected": "答案是C"},
        {"instruction": QUESTIONS[2]["instruction"], "input": "", "chosen": "C", "rejected": "答案：A"}]
    assert dropped == {"all_correct": 1, "no_options": 1}


def test_all_wrong_is_counted():
    pairs, dropped = exam_pairs(QUESTIONS[:1], [["B"], ["C"]])
    assert pairs == [] and dropped == {"all_wrong": 1, "no_options": 0}


def test_sampling_settings_are_seeded_per_sample():
    sampling = Sampling(k=3, temperature=0.7, seed=10)
    assert [sampling.settings(j).seed for j in range(3)] == [10, 11, 12]
    assert sampling.settings(0).do_sample and sampling.settings(0).temperature == 0.7


@pytest.fixture
def exams(tmp_path):
    data = write_dataset_dir(tmp_path / "data", {"med_cmb": ("cmb_train.jsonl", QUESTIONS[:3]),
                                                 "med_cmb_test": ("cmb_test.jsonl", [_question("考题", "D")])})
    manifest = {"datasets": {"med_cmb": {"file_name": "cmb_train.jsonl", "split": "train"},
                             "med_cmb_test": {"file_name": "cmb_test.jsonl", "split": "test"}}}
    (data / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    return data


def test_held_out_sets_greedy_sampling_and_non_exams_are_refused(exams, tmp_path):
    spec = ModelSpec("m", "unused")
    with pytest.raises(PrefsError, match=r"med_cmb_test is a held-out set \(test\): preferences are built from an "
                                         r"exam's training split \(e.g. med_cmb\)"):
        exam_preferences(exams, "med_cmb_test", spec, tmp_path / "cache")
    with pytest.raises(PrefsError, match="temperature above 0 and k of at least 2"):
        exam_preferences(exams, "med_cmb", spec, tmp_path / "cache", Sampling(temperature=0))
    with pytest.raises(PrefsError, match="temperature above 0 and k of at least 2"):
        exam_preferences(exams, "med_cmb", spec, tmp_path / "cache", Sampling(k=1))
    write_dataset_dir(exams, {"med_norm": ("norm.jsonl", QUESTIONS[:1])})
    with pytest.raises(PrefsError, match="med_norm is not an exam set"):
        exam_preferences(exams, "med_norm", spec, tmp_path / "cache")


def test_the_cli_says_it_in_one_line(exams, tmp_path):
    result = CliRunner().invoke(eval_group, ["prefs", "exam", "med_cmb_test", "--model", str(tmp_path),
                                             "--dataset-dir", str(exams)])
    assert result.exit_code == 1
    assert "expected a model directory" in result.output and "Traceback" not in result.output


def _judged(out, data, dataset, records, answers, verdicts):
    """An eval OUT dir with scored predictions of models a and b, judged pairwise with ``verdicts``:
    per record (verdict when a is shown first, verdict when b is shown first), each "A", "B", "tie" or None."""
    (out / "judge" / "medical_zh" / "pairwise").mkdir(parents=True)
    (out / "report.json").write_text(json.dumps({"models": ["a", "b"], "datasets": [dataset],
                                                 "dataset_dir": str(data), "limit": None}), encoding="utf-8")
    for label, texts in answers.items():
        path = out / "scores" / label / f"{dataset}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps({"index": i, "prediction": t, "reference": r["output"]},
                                           ensure_ascii=False) + "\n" for i, (t, r) in enumerate(
            zip(texts, records, strict=True))), encoding="utf-8")
    judged = out / "judge" / "medical_zh" / "pairwise"
    (judged / "report.json").write_text(json.dumps({"models": ["a", "b"], "judge": "tiny", "judge_id": "local:x",
                                                    "rubric": {"name": "medical_zh"}}), encoding="utf-8")
    orders = (("a", "b"), ("b", "a"))
    outcomes = [Outcome(Call(dataset, i, models, []), verdict, "", 1)
                for i, pair in enumerate(verdicts) for models, verdict in zip(orders, pair, strict=True)]
    # Written as the judge writes it (eval.judge.report owns the line's format).
    (judged / "judgements.jsonl").write_text("".join(json.dumps(judgement_line(o), ensure_ascii=False) + "\n"
                                                     for o in outcomes), encoding="utf-8")


DIALOG = [{"instruction": f"主题：问题{i}\n内容：怎么办", "input": "", "output": f"参考{i}"} for i in range(5)]


def test_only_swap_consistent_non_tie_verdicts_become_pairs(tmp_path):
    data = write_dataset_dir(tmp_path / "data", {"med_dialog": ("dialog_train.jsonl", DIALOG)})
    answers = {"a": [f"甲答{i}" for i in range(5)], "b": [f"乙答{i}" for i in range(5)]}
    # 0: a wins in both orders; 1: b wins in both; 2: position bias (A both times = a, then b); 3: tie; 4: unparsed.
    verdicts = [("A", "B"), ("B", "A"), ("A", "A"), ("tie", "tie"), ("A", None)]
    _judged(tmp_path / "out", data, "med_dialog", DIALOG, answers, verdicts)
    pairs, dropped, provenance = judge_pairs(tmp_path / "out", dataset_dir=data)
    assert pairs == [{"instruction": DIALOG[0]["instruction"], "input": "", "chosen": "甲答0", "rejected": "乙答0"},
                     {"instruction": DIALOG[1]["instruction"], "input": "", "chosen": "乙答1", "rejected": "甲答1"}]
    assert dropped == {"inconsistent": 1, "tie": 1, "unparsed": 1}
    assert provenance["judge"] == "tiny" and provenance["models"] == ["a", "b"]
    summary = judge_preferences(tmp_path / "out", data, "med_dialog_pref", kind="kto")
    assert summary["counts"]["written"] == {"train": 4} and summary["counts"]["desirable"] == 2


def test_verdicts_on_a_held_out_set_are_refused(tmp_path):
    data = write_dataset_dir(tmp_path / "data", {"med_dialog_test": ("dialog_test.jsonl", DIALOG)})
    _judged(tmp_path / "out", data, "med_dialog_test", DIALOG, {"a": ["x"] * 5, "b": ["y"] * 5}, [("A", "B")] * 5)
    with pytest.raises(PrefsError, match="judged held-out set\\(s\\) med_dialog_test: preferences come from "
                                         "training-split prompts only"):
        judge_pairs(tmp_path / "out", dataset_dir=data)


def test_an_unjudged_report_says_what_to_run(tmp_path):
    with pytest.raises(PrefsError, match="does not exist: judge the report pairwise first"):
        judge_pairs(tmp_path)


class _Examinee(StubHandler):
    """An OpenAI-compatible server that answers every question "A" when asked with an even seed, else "B"."""

    requests: ClassVar[list] = []

    def do_GET(self):
        self.send_body(models_list())

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["content-length"])))
        type(self).requests.append(request)
        self.send_body(chat_completion("A" if request["seed"] % 2 == 0 else "B"))


@pytest.fixture
def examinee():
    _Examinee.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Examinee)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()


def test_answers_sampled_through_a_server_are_seeded_per_sample_and_graded(exams, tmp_path, examinee):
    from eval.models import resolve

    spec = resolve("served", f"{examinee}#m")
    summary = exam_preferences(exams, "med_cmb", spec, tmp_path / "cache", Sampling(k=2, temperature=0.9))
    # Seed 42 answers A, seed 43 answers B: question 1 (A) and question 2 (B) get a pair, question 3 (C) none.
    assert sorted({(r["seed"], r["temperature"]) for r in _Examinee.requests}) == [(42, 0.9), (43, 0.9)]
    assert len(_Examinee.requests) == 6
    pairs = [json.loads(line) for line in (exams / "med_cmb_pref.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [("A", "B"), ("B", "A")]
    assert summary["counts"]["dropped"] == {"all_wrong": 1}
    assert summary["provenance"]["generator"]["endpoint"] == examinee
    # A rerun reuses the cached answers: no request reaches the server.
    exam_preferences(exams, "med_cmb", spec, tmp_path / "cache", Sampling(k=2, temperature=0.9))
    assert len(_Examinee.requests) == 6


@pytest.mark.property
@given(st.lists(st.lists(st.sampled_from(["A", "B", "C", "D", "AB", "答案：B", "不知道", ""]), min_size=4, max_size=4),
                min_size=2, max_size=5))
def test_every_question_is_paired_or_counted_and_pairs_are_right_over_wrong(samples):
    from eval.tasks import mcq

    pairs, dropped = exam_pairs(QUESTIONS, samples)
    assert len(pairs) + sum(dropped.values()) == len(QUESTIONS)
    graded = {q["instruction"]: {**q, "options": {"A": "甲", "B": "乙", "C": "丙", "D": "丁"}} for q in QUESTIONS[:3]}
    for pair in pairs:
        record = graded[pair["instruction"]]
        right, wrong = mcq.score([pair["chosen"], pair["rejected"]], [record, record])
        assert right["correct"] == 1.0 and wrong["correct"] == 0.0


def test_a_judgement_line_reads_back_and_a_broken_one_is_named(tmp_path):
    outcome = Outcome(Call("med_dialog", 3, ("a", "b"), []), "tie", "平局", 2)
    path = tmp_path / "judgements.jsonl"
    path.write_text(json.dumps(judgement_line(outcome)) + "\n" + '{"dataset": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"judgements.jsonl, line 2: not a judgement"):
        read_judgements(path)
    path.write_text(json.dumps(judgement_line(outcome)) + "\n", encoding="utf-8")
    assert read_judgements(path) == [outcome]


class _LengthJudge(StubHandler):
    """A pairwise judge on loopback that prefers the longer answer (ties on equal length): swap-consistent by
    construction, so every verdict it gives is one eval.prefs keeps, apart from ties."""

    def do_GET(self):
        self.send_body(models_list("judge"))

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["content-length"])))
        prompt = request["messages"][-1]["content"]
        # The last headings are the answers' (the instructions name them once before).
        a = prompt.rsplit("【回答A】", 1)[1].split("【回答B】", 1)[0]
        b = prompt.rsplit("【回答B】", 1)[1].split("【评估维度", 1)[0]
        winner = "A" if len(a) > len(b) else "B" if len(b) > len(a) else "tie"
        self.send_body(chat_completion(json.dumps({"winner": winner}), model="judge"))


@pytest.mark.slow
def test_judge_verdicts_on_a_training_set_become_a_preference_set_end_to_end(tmp_path):
    """eval run (two real tiny models on a training set) → eval judge --mode pairwise (through a server) →
    eval prefs judge: the pairs are the longer answers over the shorter ones, as the judge ruled."""
    from eval.judge.pipeline import JudgeRequest, prepare, run
    from eval.pipeline import evaluate
    from tests.serving import talking_qwen

    data = write_dataset_dir(tmp_path / "data", {"med_dialog": ("dialog_train.jsonl", DIALOG[:3])})
    model = str(talking_qwen())
    # One model under two templates: the same weights answer differently, which is all the judge needs here.
    specs = [ModelSpec("a", model, template="qwen"), ModelSpec("b", model, template="default")]
    evaluate(specs, ["med_dialog"], data, tmp_path / "out", settings=GenerationSettings(max_new_tokens=12),
             bootstrap=0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LengthJudge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        run(prepare(JudgeRequest(tmp_path / "out", f"http://127.0.0.1:{server.server_port}/v1#judge",
                                 mode="pairwise", resamples=0)))
    finally:
        server.shutdown()
        server.server_close()
    result = CliRunner().invoke(eval_group, ["prefs", "judge", str(tmp_path / "out"), "--name", "dialog_pref",
                                             "--dataset-dir", str(data)])
    assert result.exit_code == 0, result.output
    scored = {label: [json.loads(line)["prediction"] for line in (tmp_path / "out" / "scores" / label /
                                                                  "med_dialog.jsonl").read_text().splitlines()]
              for label in ("a", "b")}
    expected = [(max(x, y, key=len), min(x, y, key=len)) for x, y in zip(scored["a"], scored["b"], strict=True)
                if len(x) != len(y)]
    pairs = [json.loads(line) for line in (data / "dialog_pref.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(p["chosen"], p["rejected"]) for p in pairs] == expected and expected
    manifest = json.loads((data / MANIFEST_NAME).read_text(encoding="utf-8"))["datasets"]["dialog_pref"]
    assert manifest["provenance"]["models"] == ["a", "b"] and manifest["provenance"]["datasets"] == ["med_dialog"]
    assert "127.0.0.1" in manifest["provenance"]["judge"]
