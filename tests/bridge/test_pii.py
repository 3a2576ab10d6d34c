"""bridge.pii: identifiers masked by type, everything clinical left alone; the dialog/mrg pipeline scrubs by default."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bridge.pii import id_check_char, luhn_ok, scrub, scrub_record, valid_id18
from bridge.pipeline import convert_source


def test_check_digit_and_luhn_worked_by_hand():
    # 11010519491231002?: weighted sum 1*7+1*9+0*10+1*5+0*8+5*4+1*2+9*1+4*6+9*3+1*7+2*9+3*10+1*5+0*8+0*4+2*2
    # = 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 mod 11 = 2 -> "X" (table "10X98765432").
    assert id_check_char("11010519491231002") == "X"
    assert valid_id18("11010519491231002X") and valid_id18("11010519491231002x")
    assert not valid_id18("110105194912310021")
    assert not valid_id18("11010519490231002X")  # 1949-02-31 does not exist (check digit aside)
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


def test_every_type_gets_its_placeholder_and_count():
    text = ("电话13812345678，手机+86 139-1234-5678，座机010-62345678或(0571)88889999，身份证11010519491231002X，"
            "老身份证110105491231002，卡号6222 0212 3456 7890 128（4111111111111111），邮箱zhang.san@example.com，"
            "网址https://www.haodf.com/doctor?id=1 和 www.example.cn。")
    masked, found = scrub(text)
    assert masked == ("电话[电话]，手机[电话]，座机[电话]或[电话]，身份证[身份证号]，老身份证[身份证号]，"
                      "卡号[银行卡号]（[银行卡号]），邮箱[邮箱]，网址[网址] 和 [网址]。")
    assert found == Counter(mobile=2, landline=2, id_card=1, id_card_15=1, bank_card=2, email=1, url=2)


@pytest.mark.parametrize("text", [
    "体温38.5℃，WBC 12.3×10^9/L，中性粒细胞百分比85.2%，CRP 56mg/L。",
    "2023-05-12复查，2023年5月12日入院，20230512出院，血压120/80mmHg，心率98次/分。",
    "HbA1c 7.2%，血糖12.6mmol/L，住院号123456，挂号单号A0012345，服药3次/日，共14天。",
    "4111111111111112不是卡号，110105194912310021也不是身份证号，12345678901不是手机号。",
])
def test_clinical_text_and_invalid_numbers_untouched(text):
    assert scrub(text) == (text, Counter())


def test_scrub_record_walks_nested_values():
    found = Counter()
    record = {"instruction": "我的电话13812345678", "references": [{"主诉": "联系a@b.cn"}], "id": 7}
    assert scrub_record(record, found) == {"instruction": "我的电话[电话]", "references": [{"主诉": "联系[邮箱]"}],
                                           "id": 7}
    assert found == Counter(mobile=1, email=1)


_REGION = st.integers(110000, 659999).map(str)
_BIRTH = st.dates(min_value=__import__("datetime").date(1900, 1, 1),
                  max_value=__import__("datetime").date(2025, 12, 31)).map(lambda d: d.strftime("%Y%m%d"))
_SEQ = st.integers(0, 999).map(lambda n: f"{n:03d}")
_CONTEXT = st.sampled_from(["", "身份证号：", "患者", "ID ", "（", "号码是"])


@pytest.mark.property
@given(_REGION, _BIRTH, _SEQ, _CONTEXT, _CONTEXT)
def test_generated_valid_ids_are_masked(region, birth, seq, before, after):
    first17 = region + birth + seq
    number = first17 + id_check_char(first17)
    masked, found = scrub(f"{before}{number}{after}")
    assert masked == f"{before}[身份证号]{after}" and found == Counter(id_card=1)


@pytest.mark.property
@given(_REGION, _BIRTH, _SEQ, st.sampled_from("0123456789X"))
def test_ids_failing_the_check_digit_are_not_masked_as_ids(region, birth, seq, check):
    first17 = region + birth + seq
    assume(check != id_check_char(first17))
    number = first17 + check
    masked, _ = scrub(f"号码{number}。")
    assert "[身份证号]" not in masked
    # The only other reading of 18 digits is a bank card, and only when they pass Luhn.
    expected = ("号码[银行卡号]。" if check != "X" and luhn_ok(number) else f"号码{number}。")
    assert masked == expected


@pytest.mark.property
@given(st.floats(0, 1000, allow_nan=False).map(lambda x: f"{x:.1f}"), st.integers(1, 12), st.integers(1, 28),
       st.sampled_from(["℃", "mmol/L", "×10^9/L", "g/L", "%", "U/L"]))
def test_lab_values_and_dates_are_never_touched(value, month, day, unit):
    text = f"2024年{month}月{day}日查血：WBC {value}{unit}，2024-{month:02d}-{day:02d}复查{value}{unit}。"
    assert scrub(text) == (text, Counter())


@pytest.mark.property
@given(st.text(alphabet="0123456789@.-a:/w ", max_size=300))
def test_scrub_never_raises_and_is_idempotent(text):
    once, _ = scrub(text)
    assert scrub(once)[0] == once


def _plant_identifiers(raw):
    path = raw / "dialog" / "data" / "train_0001_of_0001.json"
    records = json.loads(path.read_text(encoding="utf-8"))
    for record in records:  # every record: whichever split it lands in, it must come out masked
        record["input"] += "我电话13812345678，身份证11010519491231002X，体温38.5℃，WBC 12.3×10^9/L，2023-05-12就诊。"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return len(records)


def test_dialog_conversion_masks_planted_identifiers_and_counts_them(raw, tmp_path):
    _plant_identifiers(raw)
    result = convert_source("dialog", tmp_path / "ds", raw_dir=raw)
    lines = [json.loads(line) for split in ("train", "test")
             for line in (tmp_path / "ds" / f"dialog_{split}.jsonl").read_text(encoding="utf-8").splitlines()]
    text = "".join(r["instruction"] for r in lines)
    assert "13812345678" not in text and "11010519491231002X" not in text
    assert all("我电话[电话]，身份证[身份证号]，体温38.5℃，WBC 12.3×10^9/L，2023-05-12就诊。" in r["instruction"]
               for r in lines)
    masked = result.counts["pii_masked"]
    # Every record the conversion kept (train, test and the unused refill pool) was scrubbed: at least those written.
    assert masked["mobile"] == masked["id_card"] >= len(lines) and set(masked) == {"mobile", "id_card"}
    manifest = json.loads((tmp_path / "ds" / ".medft-manifest.json").read_text(encoding="utf-8"))
    assert manifest["datasets"]["med_dialog"]["counts"]["pii_masked"] == masked
    assert manifest["datasets"]["med_dialog"]["params"]["scrub_pii"] is True


def test_keep_pii_opts_out_and_other_sources_do_not_scrub(raw, tmp_path):
    _plant_identifiers(raw)
    result = convert_source("dialog", tmp_path / "ds", raw_dir=raw, scrub_pii=False)
    assert "pii_masked" not in result.counts
    assert "13812345678" in (tmp_path / "ds" / "dialog_train.jsonl").read_text(encoding="utf-8")
    assert "pii_masked" not in convert_source("norm", tmp_path / "ds", raw_dir=raw).counts



def test_register_scrub_pii_registers_a_scrubbed_copy(tmp_path):
    from click.testing import CliRunner

    from bridge.cli import bridge

    user = tmp_path / "mine.jsonl"
    original = ('{"instruction": "我的手机13912345678，邮箱a.b@qq.com", "output": "已记录。体温37.8℃。"}\n'
                '{"instruction": "复诊时间？", "output": "2024-03-01上午。"}\n')
    user.write_text(original, encoding="utf-8")
    ds = tmp_path / "ds"
    result = CliRunner().invoke(bridge, ["register", "mine", str(user), "--dataset-dir", str(ds), "--scrub-pii"])
    assert result.exit_code == 0, result.output
    assert "identifiers masked: email 1, mobile 1" in result.output
    assert user.read_text(encoding="utf-8") == original  # the user's file is never changed
    info = json.loads((ds / "dataset_info.json").read_text(encoding="utf-8"))
    assert info["mine"]["file_name"] == "mine.jsonl"
    assert [json.loads(line) for line in (ds / "mine.jsonl").read_text(encoding="utf-8").splitlines()] == [
        {"instruction": "我的手机[电话]，邮箱[邮箱]", "output": "已记录。体温37.8℃。"},
        {"instruction": "复诊时间？", "output": "2024-03-01上午。"}]
    manifest = json.loads((ds / ".medft-manifest.json").read_text(encoding="utf-8"))
    assert manifest["datasets"]["mine"]["counts"]["pii_masked"] == {"email": 1, "mobile": 1}


def test_identifiers_inside_longer_digit_runs_are_left_alone():
    valid = "110105194912310038"
    assert valid_id18(valid) and not luhn_ok("7" + valid) and not luhn_ok(valid + "7")
    # A longer digit run holding a valid ID or a mobile number is one long number, not an identifier.
    for text in ("订单号7" + valid + "。", "订单号" + valid + "7。", "流水号9" + "13812345678" + "号",
                 "编号" + "13812345678" + "9号"):
        assert scrub(text) == (text, Counter())
