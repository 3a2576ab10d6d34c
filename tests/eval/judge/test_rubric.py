"""Rubrics are data: the shipped one is complete, a broken one lists every problem, prompts render safely."""

import json

import pytest
import yaml
from click.testing import CliRunner

from eval.cli import eval_group
from eval.judge.rubric import RUBRICS, RubricError, load, rubric_text


def test_the_shipped_rubric(tmp_path):
    rubric = load("medical_zh")
    assert [d.key for d in rubric.dimensions] == ["accuracy", "safety", "completeness", "relevance", "fluency"]
    assert [d.name for d in rubric.dimensions] == ["医学准确性", "安全性", "完整性", "相关性", "流畅性"]
    assert all(sorted(d.anchors) == [1, 2, 3, 4, 5] for d in rubric.dimensions)
    assert set(RUBRICS) == {"medical_zh"}
    copy = tmp_path / "copy.yaml"
    copy.write_text(rubric_text("medical_zh"), encoding="utf-8")
    assert load(str(copy)).dimensions == rubric.dimensions, "a copied rubric is a working rubric"


def test_prompts_render_every_placeholder_once_and_keep_braces_in_answers():
    rubric = load("medical_zh")
    report = json.dumps({"主诉": "腹泻{answer}三天"}, ensure_ascii=False)
    system, user = rubric.messages("pointwise", question="宝宝拉肚子", reference="参考{question}", answer=report)
    assert system["role"] == "system" and user["role"] == "user"
    text = user["content"]
    assert report in text and "参考{question}" in text, "values are inserted verbatim, never re-read"
    assert "1. 医学准确性（accuracy）" in text and "5分：完全正确" in text
    assert '"accuracy": 4' in text and "{reply_format}" not in text and "{dimensions}" not in text
    pair = rubric.messages("pairwise", question="q", reference="r", answer_a="甲", answer_b="乙")[1]["content"]
    assert "【回答A】\n<data-" in pair and "\n甲\n</data-" in pair and "\n乙\n</data-" in pair and '"winner"' in pair
    retry = rubric.retry_messages("pairwise", [{"role": "user", "content": "q"}], "乱码")
    assert [m["role"] for m in retry] == ["user", "assistant", "user"] and retry[1]["content"] == "乱码"
    assert '"winner": "A"' in retry[2]["content"]


def test_a_broken_rubric_lists_every_problem(tmp_path):
    data = yaml.safe_load(rubric_text("medical_zh"))
    data["dimensions"][0]["anchors"].pop(3)
    data["dimensions"][1]["key"] = "安全"
    data["pointwise"]["prompt"] = data["pointwise"]["prompt"].replace("{answer}", "{answr}")
    data["pairwise"]["reply_format"] = '{"winner": "C"}'
    data["retry"] = "请重试"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RubricError) as caught:
        load(str(path))
    message = str(caught.value)
    assert message.startswith(str(path))
    for expected in ("dimensions[1].anchors", "dimensions[2].key", "missing placeholder(s) {answer}",
                     "unknown placeholder {answr}; did you mean {answer}?", "retry:"):
        assert expected in message, expected


def test_reply_format_must_be_parsable(tmp_path):
    data = yaml.safe_load(rubric_text("medical_zh"))
    data["pointwise"]["reply_format"] = '{"accuracy": 4}'
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RubricError, match=r"pointwise\.reply_format"):
        load(str(path))


def test_unknown_rubric_and_unreadable_files(tmp_path):
    with pytest.raises(RubricError, match="did you mean 'medical_zh'"):
        load("medical_z")
    (tmp_path / "list.yaml").write_text("- a\n", encoding="utf-8")
    with pytest.raises(RubricError, match="a rubric is a YAML mapping"):
        load(str(tmp_path / "list.yaml"))
    (tmp_path / "bad.yaml").write_text("a: [\n", encoding="utf-8")
    with pytest.raises(RubricError, match="cannot read the rubric"):
        load(str(tmp_path / "bad.yaml"))


def test_rubric_command_prints_and_checks():
    shown = CliRunner().invoke(eval_group, ["rubric", "medical_zh"])
    assert shown.exit_code == 0 and "name: medical_zh" in shown.output and "is valid: 5 dimensions" in shown.output
    missing = CliRunner().invoke(eval_group, ["rubric", "nope.yaml"])
    assert missing.exit_code == 1 and "Traceback" not in missing.output
