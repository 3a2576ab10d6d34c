"""report.html without a browser: the embedded data, the escaping of untrusted answers, rewriting."""

import json
import re

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from bench.bench_report import HOSTILE, write_sample_report
from eval.cli import eval_group
from eval.report_html import _json_block, collect, write


def _embedded(text: str) -> dict:
    match = re.search(r'<script type="application/json" id="medft-data">(.*?)</script>', text, re.S)
    return json.loads(match.group(1))


def test_the_page_embeds_every_record_and_no_answer_can_leave_its_script(tmp_path):
    report = write_sample_report(tmp_path, n=12, tasks=("norm", "mcq"), bootstrap=0)
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert text.count("<script") == 2 and text.count("</script>") == 2, "only the page's own two scripts"
    assert "<!--" not in text and "<img src=x" not in text
    data = _embedded(text)
    assert data["models"] == ["base", "tuned", "other"]
    norm = data["datasets"][0]
    assert norm["name"] == "med_norm_test" and len(norm["records"]) == 12
    assert norm["records"][1]["a"][2] == HOSTILE, "the hostile answer is kept as data, byte for byte"
    scores = [json.loads(line) for line in (tmp_path / "scores" / "tuned" / "med_norm_test.jsonl").read_text(
        encoding="utf-8").splitlines()]
    assert [r["a"][1] for r in norm["records"]] == [s["prediction"] for s in scores]
    assert [r["s"][1] for r in norm["records"]] == [s["exact_match"] for s in scores]
    assert [r["f"][1] for r in norm["records"]] == [s["flags"] for s in scores]
    exams = data["datasets"][1]
    assert {r["g"] for r in exams["records"]} >= {"医学 / 解剖学", "其他 / 营养学"}
    assert "data:image/png;base64," in text and "http://" not in text and "https://" not in text
    counted = {flag: sum(flag in s["flags"] for s in scores) for flag in ("empty", "truncated")}
    assert report["results"]["tuned"]["med_norm_test"]["flags"] == counted


def test_the_page_is_rebuilt_identically_by_eval_report(tmp_path):
    write_sample_report(tmp_path, n=6, tasks=("dialog",), bootstrap=0)
    before = (tmp_path / "report.html").read_bytes()
    (tmp_path / "report.html").unlink()
    result = CliRunner().invoke(eval_group, ["report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.html").read_bytes() == before
    assert write(tmp_path).read_bytes() == before


def test_a_lone_surrogate_in_an_answer_does_not_break_the_page(tmp_path):
    write_sample_report(tmp_path, n=4, tasks=("dialog",), bootstrap=0)
    path = tmp_path / "scores" / "base" / "med_dialog_test.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["prediction"] = "坏\ud800字"
    path.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n", encoding="utf-8")
    text = write(tmp_path).read_text(encoding="utf-8")
    assert _embedded(text)["datasets"][0]["records"][0]["a"][0] == "坏?字"
    assert collect(tmp_path)["datasets"][0]["records"][0]["a"][0] == "坏\ud800字"


@pytest.mark.property
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_any_answer_survives_the_json_block_and_cannot_open_a_tag(answer):
    block = _json_block({"a": [answer]})
    assert "<" not in block
    assert json.loads(block) == {"a": [answer]}
