import json
import shutil

import pytest
from click.testing import CliRunner

from eval.bertscore import BertScoreModelError, bertscore_f1
from eval.cli import eval_group


def test_identical_text_scores_one_and_different_text_less(tiny_bert_path):
    same, other = bertscore_f1(
        ["患者发热三天，伴咳嗽。", "患者发热三天，伴咳嗽。"],
        ["患者发热三天，伴咳嗽。", "建议口服补液盐，注意休息。"],
        model=str(tiny_bert_path),
    )
    assert same == pytest.approx(1.0, abs=1e-5)
    assert other < same


def test_multiple_references_take_the_best(tiny_bert_path):
    (best,) = bertscore_f1(["小儿腹泻"], [["急性支气管炎", "小儿腹泻"]], model=str(tiny_bert_path))
    assert best == pytest.approx(1.0, abs=1e-5)


def test_tokenizer_without_model_max_length_does_not_overflow(tiny_bert_path, tmp_path):
    # A local bert-base-chinese copy often has no tokenizer_config.json: bert-score would overflow.
    bare = tmp_path / "bare-bert"
    shutil.copytree(tiny_bert_path, bare)
    config = json.loads((bare / "tokenizer_config.json").read_text(encoding="utf-8"))
    config.pop("model_max_length", None)
    (bare / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    long_text = "发热" * 400  # longer than the 512 positions
    (f1,) = bertscore_f1([long_text], [long_text], model=str(bare))
    assert f1 == pytest.approx(1.0, abs=1e-5)


def test_length_mismatch_is_an_error(tiny_bert_path):
    with pytest.raises(ValueError, match="2 candidates but 1 references"):
        bertscore_f1(["a", "b"], ["a"], model=str(tiny_bert_path))


def test_missing_model_offline_gives_a_clear_error(tmp_path):
    with pytest.raises(BertScoreModelError, match="medft runs offline"):
        bertscore_f1(["a"], ["a"], model=str(tmp_path / "no-such-model"))


def test_cli_prints_json(tiny_bert_path):
    result = CliRunner().invoke(eval_group, ["bertscore", "--model", str(tiny_bert_path), "咳嗽", "咳嗽"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["bertscore_f1"] == pytest.approx(1.0, abs=1e-5)


def test_empty_text_scores_by_rule_not_nan(tiny_bert_path):
    scores = bertscore_f1(["", "", "发热", "发热"], ["", "发热", "", ["", "发热"]], model=str(tiny_bert_path))
    assert scores[:3] == [1.0, 0.0, 0.0]
    assert scores[3] == pytest.approx(1.0, abs=1e-5)
