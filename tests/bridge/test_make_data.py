"""`make data` converts every source it can, then shows one table of outcomes and fails if any source failed;
o1 files are found by their content's language."""

import json

import pytest
from click.testing import CliRunner

from bridge import o1
from bridge.cli import bridge
from bridge.common import BridgeError
from bridge.registry import load_dataset_info

EN = [{"Question": f"A 65-year-old man with chest pain {i}?", "Complex_CoT": "ST elevation in II, III, aVF.",
       "Response": "Inferior MI."} for i in range(12)]


def _run(*args):
    return CliRunner().invoke(bridge, [str(a) for a in args])


def test_a_failing_source_does_not_stop_the_others(raw, tmp_path):
    (raw / "mrg" / "IMCS-V2_train.json").write_text('{"1": {"dialogue": [', encoding="utf-8")  # cut short
    data = tmp_path / "data"
    result = _run("convert", "--raw-dir", raw, "--dataset-dir", data)
    assert result.exit_code == 1 and "Traceback" not in result.output
    text = " ".join(result.output.split())
    assert "mrg: failed" in text and "make data: every source" in text
    assert "Error: 1 of 7 sources failed: mrg (see above); the others were converted" in text
    info = load_dataset_info(data)
    for name in ("med_dialog", "med_norm", "med_o1", "med_cmb_test", "med_cmexam_test", "med_cmmlu_test"):
        assert name in info, name
    assert "med_mrg" not in info
    table = result.output[result.output.index("make data: every source"):]
    for source in ("dialog", "norm", "mrg", "o1", "cmb", "cmexam", "cmmlu"):
        assert source in table


def test_one_named_source_still_fails_at_once(raw, tmp_path):
    (raw / "mrg" / "IMCS-V2_train.json").write_text("[", encoding="utf-8")
    result = _run("convert", "mrg", "--raw-dir", raw, "--dataset-dir", tmp_path / "data")
    assert result.exit_code == 1 and "every source" not in result.output and "Error: " in result.output


def test_the_english_o1_file_alone_is_found_without_lang(tmp_path):
    raw = tmp_path / "raw"
    (raw / "o1").mkdir(parents=True)
    (raw / "o1" / "medical_o1_sft.json").write_text(json.dumps(EN), encoding="utf-8")
    result = _run("convert", "--raw-dir", raw, "--dataset-dir", tmp_path / "data")
    assert result.exit_code == 0, result.output
    first = json.loads((tmp_path / "data" / "o1_train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["instruction"].startswith("Question: ")


def test_a_renamed_o1_file_is_recognised_by_its_content(tmp_path):
    raw = tmp_path / "o1"
    raw.mkdir()
    (raw / "english_copy.json").write_text(json.dumps(EN), encoding="utf-8")
    assert o1.find_inputs(raw) == {"train": [raw / "english_copy.json"], "test": [raw / "english_copy.json"]}
    assert o1.find_inputs(raw, "en")["train"] == [raw / "english_copy.json"]
    with pytest.raises(BridgeError) as info:
        o1.find_inputs(raw, "zh")
    assert info.value.message == (f"no Chinese o1 file under {raw} (--lang zh); found english_copy.json (en): "
                                  "drop --lang or pass --lang en")


def test_no_o1_file_names_both_files_and_lang(tmp_path):
    with pytest.raises(BridgeError, match=r"expected medical_o1_sft_Chinese.json \(Chinese\) or medical_o1_sft.json "
                                          r"\(English; the language is read from the content, --lang zh\|en"):
        o1.find_inputs(tmp_path)
