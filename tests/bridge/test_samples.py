import csv
import io
import json

from click.testing import CliRunner

from bridge.cli import bridge
from bridge.samples import sample_paths, write_samples


def test_samples_are_deterministic_and_in_the_raw_formats(tmp_path):
    first, second = write_samples(tmp_path / "a", seed=3), write_samples(tmp_path / "b", seed=3)
    assert {k: p.read_bytes() for k, p in first.items()} == {k: p.read_bytes() for k, p in second.items()}
    other = write_samples(tmp_path / "c", seed=4)
    assert other["dialog"].read_bytes() != first["dialog"].read_bytes()

    dialog = json.loads(first["dialog"].read_text(encoding="utf-8"))
    assert isinstance(dialog, list) and len(dialog) == 302
    assert set(dialog[0]) == {"instruction", "input", "output", "history"} and dialog[0]["history"] is None
    assert sum(r["input"] == "无" for r in dialog) >= 10

    rows = list(csv.reader(io.StringIO(first["dialog_csv"].read_bytes().decode("gb18030"))))
    assert rows[0] == ["department", "title", "ask", "answer"] and len(rows) == 61
    assert any("," in cell for row in rows[1:] for cell in row)  # quoted fields with commas

    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_path(str(first["norm_train"])).get_sheet_by_index(0).to_python()
    assert sheet[0] == ["原始词", "标准词"] and len(sheet) == 201
    assert any("##" in str(row[1]) for row in sheet[1:])

    train = json.loads(first["mrg_train"].read_text(encoding="utf-8"))
    record = next(iter(train.values()))
    assert set(record) >= {"diagnosis", "self_report", "dialogue", "report"} and len(record["report"]) == 2
    assert set(record["report"][0]) == {"主诉", "现病史", "辅助检查", "既往史", "诊断", "建议"}
    assert set(record["dialogue"][0]) >= {"sentence_id", "speaker", "sentence", "dialogue_act", "BIO_label"}
    sentences = [t["sentence"] for r in train.values() for t in r["dialogue"]]
    assert "（空）" in sentences and "图片因隐私问题无法显示" in sentences
    assert first["mrg_dev"].read_bytes().startswith(b"\xef\xbb\xbf")
    test = json.loads(first["mrg_test"].read_text(encoding="utf-8"))
    assert all("report" not in r for r in test.values())

    o1 = json.loads(first["o1"].read_text(encoding="utf-8"))
    assert len(o1) == 60 and set(o1[0]) == {"Question", "Complex_CoT", "Response"}


def test_samples_dry_run_writes_nothing(tmp_path):
    result = CliRunner().invoke(bridge, ["samples", "--out", str(tmp_path / "raw"), "--dry-run"])
    assert result.exit_code == 0 and not (tmp_path / "raw").exists()
    assert str(sample_paths(tmp_path / "raw")["norm_train"]) in result.output


def test_exam_samples_are_in_the_published_formats(tmp_path):
    files = write_samples(tmp_path, seed=0)
    test = json.loads(files["cmb_test"].read_text(encoding="utf-8"))
    assert files["cmb_test"].read_text(encoding="utf-8").startswith('[\n    {\n        "id": 1,')  # indent=4
    assert set(test[0]) == {"id", "exam_type", "exam_class", "exam_subject", "question", "question_type", "option"}
    answers = json.loads(files["cmb_answers"].read_text(encoding="utf-8"))
    assert set(answers[0]) == {"id", "exam_type", "exam_class", "exam_subject", "question_type", "answer"}
    assert [a["id"] for a in answers] == [q["id"] for q in test]
    val = json.loads(files["cmb_val"].read_text(encoding="utf-8"))
    assert {"answer", "explanation", "option"} <= set(val[0]) and "id" not in val[0]
    assert any(v.strip() == "" for q in test for v in q["option"].values())  # blank padding slots
    assert any(len(q["option"]) == 6 and all(q["option"].values()) for q in test)

    header = files["cmexam_test"].read_text(encoding="utf-8").split("\n", 1)[0]
    assert header == ("Question,Options,Answer,Explanation,Disease Group,Area of Competency,Clinical Department,"
                      "Medical Discipline,Difficulty level")
    rows = list(csv.reader(io.StringIO(files["cmexam_train"].read_text(encoding="utf-8"), newline="")))
    assert rows[0] == ["Question", "Options", "Answer", "Explanation"]
    assert rows[1][1].split("\n")[0].startswith("A ") and any(row[2] == "" for row in rows[1:])

    cmmlu = files["cmmlu_test_anatomy"].read_text(encoding="utf-8")
    assert cmmlu.startswith(",Question,A,B,C,D,Answer\n0,") and '""' in "".join(
        files[f"cmmlu_test_{s}"].read_text(encoding="utf-8") for s in ("anatomy", "genetics", "virology"))
    assert len(files["cmmlu_dev_virology"].read_text(encoding="utf-8").splitlines()) == 6
