import pytest

from bridge.common import BridgeError
from bridge.textfile import read_utf8_text


def read(path, **kwargs):
    return read_utf8_text(path, if_directory=f"{path} is a directory here", if_not_utf8="save it as UTF-8", **kwargs)


def test_reads_utf8_and_drops_the_bom(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes("\ufeff{\"症状\": \"发热\"}".encode())
    assert read(path) == "{\"症状\": \"发热\"}"


def test_missing_file_is_none_only_when_allowed(tmp_path):
    path = tmp_path / "absent.json"
    assert read(path, missing_ok=True) is None
    with pytest.raises(BridgeError, match=r"cannot read .*absent\.json: No such file"):
        read(path)


def test_directory_and_gbk_and_truncated_are_one_line_errors(tmp_path):
    with pytest.raises(BridgeError, match="is a directory here"):
        read(tmp_path)
    gbk = tmp_path / "gbk.json"
    gbk.write_bytes("{\"症状\": \"发热\"}".encode("gbk"))
    with pytest.raises(BridgeError, match=r"gbk\.json.*not UTF-8.*; save it as UTF-8") as caught:
        read(gbk)
    assert "\n" not in caught.value.message
    cut = tmp_path / "cut.json"
    cut.write_bytes("\"发热\"".encode()[:-2])
    with pytest.raises(BridgeError, match="truncated"):
        read(cut)
