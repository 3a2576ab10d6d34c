"""bridge.audit: training × held-out contamination (exact, 13-gram), near-duplicates, --fix on training only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge import audit
from bridge.cli import bridge
from bridge.common import BridgeError
from bridge.pipeline import convert_source
from bridge.sources import SOURCES
from medft.io import sha256_file


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _held(name: str, contents: list[str]) -> audit.HeldOut:
    return audit.HeldOut(name, [f"key{i}" for i in range(len(contents))], contents,
                         [len(audit._grams(c)) for c in contents])


def test_rules_worked_by_hand():
    # 20 distinct characters -> 20 - 13 + 1 = 8 distinct 13-grams.
    item = "一二三四五六七八九十甲乙丙丁戊己庚辛壬癸"
    index = audit.Index.build([_held("x_test", [item, "短"])])
    assert index.sets[0].grams == [8, 0]
    # Verbatim inside the training text (any template around it): exact.
    assert audit.match_record(index, {"instruction": "题目：" + item, "output": "A"}) == {(0, 0): "exact"}
    # Changing the last character breaks only the gram starting at 7: 7/8 shared > 50 %.
    assert audit.match_record(index, {"instruction": item[:-1] + "X", "output": ""}) == {(0, 0): "ngram"}
    # Changing the character at position 4 breaks the grams starting at 0..4: 3/8 shared < 50 %: not flagged.
    assert audit.match_record(index, {"instruction": item[:4] + "X" + item[5:], "output": ""}) == {}
    # Exactly half (4/8) is not "more than half": the first 16 characters hold grams 0..3.
    assert audit.match_record(index, {"instruction": item[:16], "output": ""}) == {}
    assert audit.match_record(index, {"instruction": item[:17], "output": ""}) == {(0, 0): "ngram"}
    # A short item is judged by its normalised prompt only (bridge/splits.py's key).
    assert audit.match_record(index, {"instruction": "key1", "output": ""}) == {(0, 1): "exact"}
    assert audit.match_record(index, {"instruction": "k e y１", "output": ""}) == {(0, 1): "exact"}  # NFKC, spaces


def test_template_affixes_are_not_content():
    keys = ["请标准化：左肾结石。答：", "请标准化：高血压病。答：", "请标准化：糖尿病。答："]
    affixes = audit._common_affixes(keys)
    assert [audit._strip(k, affixes) for k in keys] == ["左肾结石", "高血压病", "糖尿病"]
    assert audit._common_affixes(["只有一条"]) == (0, 0)


def test_near_duplicates_found_and_threshold_checked():
    near = audit.NearDuplicates(0.7)
    base = "患者男45岁反复上腹痛三个月伴反酸嗳气夜间加重进食后缓解胃镜提示十二指肠球部溃疡幽门螺杆菌阳性"
    assert near.seen(base) is False
    assert near.seen(base.replace("三个月", "三个多月")) is True  # a changed word
    assert near.seen("完全不同的一条记录讲的是儿童发热咳嗽两天伴流涕精神可食欲差无抽搐") is False
    assert len(near.kept) == 2
    with pytest.raises(BridgeError, match="threshold must be in"):
        audit.NearDuplicates(1.5)


def _plant(raw: Path, dataset_dir: Path) -> tuple[dict, dict]:
    """A CMExam test question inside CMB's training file; a CMMLU test question (with its options) in three
    dialogue records (dialog's held-out split is cut from the same file: at least one lands in training)."""
    convert_source("cmexam", dataset_dir, raw_dir=raw)
    convert_source("cmmlu", dataset_dir, raw_dir=raw)
    cmexam_q = _lines(dataset_dir / "cmexam_test.jsonl")[0]
    cmmlu_q = _lines(dataset_dir / "cmmlu_test.jsonl")[0]
    cmb_path = raw / "cmb" / "CMB" / "CMB-Exam" / "CMB-train" / "CMB-train-merge.json"
    cmb = json.loads(cmb_path.read_text(encoding="utf-8"))
    cmb.insert(5, {"exam_type": "医师考试", "exam_class": "执业医师", "exam_subject": "临床执业医师",
                   "question": cmexam_q["question"], "answer": cmexam_q["answer"], "question_type": "单项选择题",
                   "option": cmexam_q["options"]})
    cmb_path.write_text(json.dumps(cmb, ensure_ascii=False), encoding="utf-8")
    dialog_path = raw / "dialog" / "data" / "train_0001_of_0001.json"
    dialog = json.loads(dialog_path.read_text(encoding="utf-8"))
    options = " ".join(f"{k}、{v}" for k, v in cmmlu_q["options"].items())
    for n, title in enumerate(["请教一道题", "考试题不会", "这道题选什么"]):
        dialog.insert(10 + 50 * n, {"instruction": title, "input": f"{cmmlu_q['question']} {options}",
                                    "output": "选C，理由如下。", "history": None})
    dialog_path.write_text(json.dumps(dialog, ensure_ascii=False), encoding="utf-8")
    return cmexam_q, cmmlu_q


def test_planted_cross_source_leaks_are_found_and_fixed_in_training_only(raw, tmp_path):
    dataset_dir = tmp_path / "ds"
    _plant(raw, dataset_dir)
    for name in SOURCES:
        convert_source(name, dataset_dir, raw_dir=raw)
    report = audit.audit(dataset_dir, near_dedup=0.7)
    cells = {(c["train"], c["heldout"]): c for c in report["matrix"]}
    assert cells[("med_cmb", "med_cmexam_test")]["exact"] == 1
    assert cells[("med_cmb", "med_cmexam_test")]["examples"][0]["heldout_item"] == 0
    # Options written "A、…" instead of "A. …" and other commas: the same text once punctuation is ignored.
    assert cells[("med_dialog", "med_cmmlu_test")]["exact"] == 1
    held_out = {p.name: sha256_file(p) for p in dataset_dir.glob("*_test.jsonl")}
    held_out.update({p.name: sha256_file(p) for p in dataset_dir.glob("*_dev.jsonl")})
    cmb_before = len(_lines(dataset_dir / "cmb_train.jsonl"))

    removed = audit.fix(dataset_dir, report)

    assert removed["med_cmb"] == report["training"]["med_cmb"]["contaminated_records"] + report["training"][
        "med_cmb"]["near_duplicates"]
    assert len(_lines(dataset_dir / "cmb_train.jsonl")) == cmb_before - removed["med_cmb"]
    # Published test sets and few-shot pools are byte-for-byte unchanged.
    assert {name: sha256_file(dataset_dir / name) for name in held_out} == held_out
    again = audit.audit(dataset_dir, near_dedup=0.7)
    assert audit.overlapping(again) == []
    assert all(t["near_duplicates"] == 0 for t in again["training"].values())
    manifest = json.loads((dataset_dir / ".medft-manifest.json").read_text(encoding="utf-8"))
    entry = manifest["datasets"]["med_cmb"]
    assert entry["sha256"] == sha256_file(dataset_dir / "cmb_train.jsonl")
    assert entry["audit"]["removed_contaminated"] == report["training"]["med_cmb"]["contaminated_records"]
    assert entry["counts"]["written"]["train"] == cmb_before - removed["med_cmb"]
    assert "audit" not in manifest["datasets"]["med_cmexam_test"]
    # The fixed file is what the manifest describes: reconverting with unchanged inputs is a no-op.
    assert convert_source("cmb", dataset_dir, raw_dir=raw).status == "unchanged"


def test_fix_refuses_a_file_changed_since_the_audit(converted_dir, tmp_path):
    import shutil

    dataset_dir = tmp_path / "ds"
    shutil.copytree(converted_dir, dataset_dir)
    report = audit.audit(dataset_dir, near_dedup=0.7)
    flagged = next(name for name, drop in report["drop"].items() if drop)
    path = Path(report["training"][flagged]["file"])
    before = path.read_bytes() + b"\n"
    path.write_bytes(before)
    with pytest.raises(BridgeError, match="changed since the audit"):
        audit.fix(dataset_dir, report)
    assert path.read_bytes() == before and not list(dataset_dir.glob(".*.tmp*"))


def test_user_registered_file_is_copied_never_changed(tmp_path):
    dataset_dir = tmp_path / "ds"
    item = "下列哪项是急性心肌梗死最早出现的心电图改变A.ST段抬高B.T波高尖C.病理性Q波D.T波倒置"
    user = _write_jsonl(tmp_path / "mine.jsonl", [{"instruction": "复习：" + item, "output": "B"},
                                                  {"instruction": "别的问题，与考试无关的一条记录", "output": "好"}])
    test = _write_jsonl(tmp_path / "exam.jsonl", [{"instruction": item, "output": "B"},
                                                  {"instruction": "另一条考题，完全不同的内容在这里", "output": "A"}])
    from bridge.userdata import register_file

    register_file("mine", user, dataset_dir, test_path=test)  # prompts differ ("复习："): the leak rule keeps both
    report = audit.audit(dataset_dir)
    assert [(c["train"], c["heldout"], c["exact"]) for c in report["matrix"]] == [("mine", "mine_test", 1)]
    sha = sha256_file(user)
    assert audit.fix(dataset_dir, report) == {"mine": 1}
    assert sha256_file(user) == sha
    info = json.loads((dataset_dir / "dataset_info.json").read_text(encoding="utf-8"))
    assert info["mine"]["file_name"] == "mine_audited.jsonl"
    kept = [{"instruction": "别的问题，与考试无关的一条记录", "output": "好"}]
    assert _lines(dataset_dir / "mine_audited.jsonl") == kept


def test_cli_prints_matrix_writes_reports_and_fixes(raw, tmp_path):
    dataset_dir = tmp_path / "ds"
    _plant(raw, dataset_dir)
    for name in ("cmb", "dialog"):
        convert_source(name, dataset_dir, raw_dir=raw)
    result = CliRunner().invoke(bridge, ["audit", "--dataset-dir", str(dataset_dir), "--near-dedup", "--fix"])
    assert result.exit_code == 0, result.output
    assert "contamination audit" in result.output and "cmexam_test" in result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["fixed"] is True and summary["contaminated_records"]["med_cmb"] >= 1
    saved = json.loads((dataset_dir / "audit.json").read_text(encoding="utf-8"))
    assert "drop" not in saved and audit.overlapping(saved) == []  # re-audited after the fix
    assert "| med_cmb |" in (dataset_dir / "audit.md").read_text(encoding="utf-8")
    bad = CliRunner().invoke(bridge, ["audit", "--dataset-dir", str(dataset_dir), "--near-dedup", "2"])
    assert bad.exit_code == 2 and "0<x<=1" in bad.output.replace(" ", "")


def test_bad_input_is_one_line_naming_file_and_line(tmp_path):
    from tests.bridge.audit_fixture import audited_dir

    dataset_dir = audited_dir(tmp_path)
    with open(tmp_path / "mine.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"instruction": "坏的一行"\n')
    for near in (None, 0.7):  # with near-dedup the contamination pass runs in a worker: its error comes back
        with pytest.raises(BridgeError, match=r"mine\.jsonl: line 3, column \d+: malformed JSON"):
            audit.audit(dataset_dir, near_dedup=near)
    result = CliRunner().invoke(bridge, ["audit", "--dataset-dir", str(tmp_path / "empty")])
    assert result.exit_code == 1 and "nothing to audit in" in result.output and "Traceback" not in result.output
