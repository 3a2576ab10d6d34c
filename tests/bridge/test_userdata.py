import json

import pytest

from bridge import registry
from bridge.common import BridgeError
from bridge.userdata import register_file


def _jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_register_alpaca_inside_dataset_dir_is_relative(tmp_path):
    path = _jsonl(tmp_path / "general.jsonl", [{"instruction": "你好", "input": "", "output": "你好！"}] * 3)
    result = register_file("general_zh", path, tmp_path)
    assert result["status"] == "added" and result["rows"] == 3
    info = registry.load_dataset_info(tmp_path)
    assert info["general_zh"] == {"file_name": "general.jsonl", "formatting": "alpaca",
                                  "columns": {"prompt": "instruction", "query": "input", "response": "output"}}
    assert registry.load_manifest(tmp_path)["datasets"]["general_zh"]["converter"] == "register"
    assert register_file("general_zh", path, tmp_path)["status"] == "unchanged"


def test_register_sharegpt_both_styles_outside_dir_is_absolute(tmp_path):
    data = tmp_path / "data"
    conv = tmp_path / "conv.json"
    turns = [{"from": "human", "value": "头疼"}, {"from": "gpt", "value": "休息"}]
    conv.write_text(json.dumps([{"conversations": turns}], ensure_ascii=False), encoding="utf-8")
    entry = register_file("conv", conv, data)["entry"]
    assert entry == {"file_name": str(conv.resolve()), "formatting": "sharegpt",
                     "columns": {"messages": "conversations"}}
    msgs = _jsonl(tmp_path / "m.jsonl", [{"messages": [{"role": "system", "content": "你是医生"},
                                                       {"role": "user", "content": "头疼"},
                                                       {"role": "assistant", "content": "休息"}]}])
    entry = register_file("msgs", msgs, data)["entry"]
    assert entry["columns"] == {"messages": "messages"}
    assert entry["tags"] == {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                             "assistant_tag": "assistant", "system_tag": "system"}


def test_invalid_files_report_every_problem(tmp_path):
    path = _jsonl(tmp_path / "bad.jsonl", [{"instruction": "a", "output": ""}, {"input": 3, "output": "b"}])
    with pytest.raises(BridgeError) as info:
        register_file("bad", path, tmp_path)
    message = info.value.message
    assert "record 0: 'output' missing or empty" in message
    assert "record 1: 'instruction' missing or empty" in message and "record 1: 'input' must be a string" in message
    assert not (tmp_path / "dataset_info.json").exists()
    conv = _jsonl(tmp_path / "c.jsonl", [{"conversations": [{"from": "gpt", "value": "x"}]}])
    with pytest.raises(BridgeError, match="turns must alternate human/gpt"):
        register_file("c", conv, tmp_path)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"instruction": "a", "output": "b"}\n{"instruction": \n', encoding="utf-8")
    with pytest.raises(BridgeError, match=r"broken.jsonl: line 2, column \d+: malformed JSON"):
        register_file("b", broken, tmp_path)


def test_dry_run_and_force(tmp_path):
    (tmp_path / "dataset_info.json").write_text(json.dumps({"general": {"file_name": "other.json"}}), encoding="utf-8")
    path = _jsonl(tmp_path / "g.jsonl", [{"instruction": "a", "input": "", "output": "b"}])
    with pytest.raises(BridgeError, match="--force"):
        register_file("general", path, tmp_path)
    assert register_file("general", path, tmp_path, force=True, dry_run=True)["status"] == "dry-run"
    assert registry.load_dataset_info(tmp_path)["general"] == {"file_name": "other.json"}
    assert register_file("general", path, tmp_path, force=True)["status"] == "updated"
    assert registry.load_dataset_info(tmp_path)["general"]["file_name"] == "g.jsonl"


def test_gbk_jsonl_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "general.jsonl"
    path.write_bytes((json.dumps({"instruction": "头痛怎么办", "input": "", "output": "多休息"}, ensure_ascii=False)
                      + "\n").encode("gbk"))
    with pytest.raises(BridgeError, match=r"general\.jsonl: line 1: not UTF-8 text") as caught:
        register_file("g", path, tmp_path)
    assert "\n" not in caught.value.message
    assert not (tmp_path / "dataset_info.json").exists()


def test_truncated_jsonl_is_called_truncated(tmp_path):
    path = tmp_path / "cut.jsonl"
    data = (json.dumps({"instruction": "头痛怎么办", "input": "", "output": "多休息"}, ensure_ascii=False)).encode()
    path.write_bytes(data[:-4])  # ends inside the last character
    with pytest.raises(BridgeError, match="the file is truncated"):
        register_file("g", path, tmp_path)


@pytest.mark.parametrize("name", ["../../../pwn2", "../../pwn", "/abs/x", "a/b", ".hidden"])
def test_a_name_that_is_a_path_is_refused_and_nothing_is_written(tmp_path, name):
    data = tmp_path / "a" / "b" / "c" / "data"
    data.mkdir(parents=True)
    path = _jsonl(tmp_path / "train.jsonl", [{"instruction": "问", "output": "答"}])
    held = _jsonl(tmp_path / "held.jsonl", [{"instruction": "别的问题", "output": "答"}])
    before = sorted(p for p in tmp_path.rglob("*"))
    with pytest.raises(BridgeError, match=f"^dataset name {name!r} is not allowed: ") as info:
        register_file(name, path, data, test_path=held)
    assert "\n" not in info.value.message
    assert sorted(p for p in tmp_path.rglob("*")) == before


def test_recover_drops_a_pending_record_that_escapes_the_dataset_dir(tmp_path):
    """What an older medft left after `register ../../../pwn2 FILE --test-file T`: a staged file three levels
    up and a pending record naming it. recover must make the dir usable again, and say what it did."""
    from click.testing import CliRunner

    from bridge.cli import bridge
    from recipes.validate import check_datasets

    data = tmp_path / "x" / "y" / "z" / "data"
    data.mkdir(parents=True)
    path = _jsonl(tmp_path / "train.jsonl", [{"instruction": "问", "output": "答"}])
    register_file("mine", path, data)
    info_before = (data / "dataset_info.json").read_bytes()
    manifest = registry.load_manifest(data)
    staged = ".pwn2_test.jsonl.medft999999-00000000.abcd.tmp"
    (tmp_path / staged).write_text("{}\n", encoding="utf-8")  # three levels above data/
    manifest["datasets"]["../../../pwn2"] = {"file_name": "x"}
    manifest["pending"] = {"renames": {"../../../pwn2_test.jsonl": staged},
                           "entries": {"../../../pwn2": {"file_name": "x"}, "../../../pwn2_test": {"file_name": "y"}},
                           "replace": []}
    (data / ".medft-manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert "bridge recover" in check_datasets({"dataset": "mine"}, data)[0]

    result = CliRunner().invoke(bridge, ["recover", "--dataset-dir", str(data)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "dropped a 'pending' record bridge did not write" in out
    assert "'../../../pwn2', '../../../pwn2_test' not registered" in out
    after = registry.load_manifest(data)
    assert "pending" not in after and "../../../pwn2" not in after["datasets"] and "mine" in after["datasets"]
    assert (data / "dataset_info.json").read_bytes() == info_before
    assert (tmp_path / staged).exists()  # outside the dataset dir: never touched
    assert check_datasets({"dataset": "mine"}, data) == []
    assert register_file("mine", path, data)["status"] == "unchanged"
    again = CliRunner().invoke(bridge, ["recover", "--dataset-dir", str(data)])
    assert again.exit_code == 0 and "nothing to recover" in again.output
