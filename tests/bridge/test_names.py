"""`bridge convert SOURCE --name ALIAS`: several conversions of one source side by side."""

from __future__ import annotations

import json

from bridge.pipeline import convert_source


def test_alias_registers_a_second_conversion_beside_the_first(raw, tmp_path):
    from click.testing import CliRunner

    from bridge.cli import bridge

    ds = tmp_path / "ds"
    convert_source("norm", ds, raw_dir=raw)
    result = CliRunner().invoke(bridge, ["convert", "norm", "--name", "cdn", "--raw-dir", str(raw),
                                         "--dataset-dir", str(ds)])
    assert result.exit_code == 0, result.output
    info = json.loads((ds / "dataset_info.json").read_text(encoding="utf-8"))
    assert {k: v["file_name"] for k, v in info.items()} == {
        "med_norm": "norm_train.jsonl", "med_norm_test": "norm_test.jsonl",
        "med_cdn": "cdn_train.jsonl", "med_cdn_test": "cdn_test.jsonl"}
    assert (ds / "cdn_train.jsonl").read_bytes() == (ds / "norm_train.jsonl").read_bytes()
    manifest = json.loads((ds / ".medft-manifest.json").read_text(encoding="utf-8"))
    assert manifest["datasets"]["med_cdn"]["converter"] == "norm"
    for bad in ("CDN", "cdn_test", "../x", "a" * 41):
        result = CliRunner().invoke(bridge, ["convert", "norm", "--name", bad, "--raw-dir", str(raw),
                                             "--dataset-dir", str(ds)])
        assert result.exit_code == 1 and f"--name {bad!r}: expected" in result.output
    result = CliRunner().invoke(bridge, ["convert", "--name", "x", "--raw-dir", str(raw), "--dataset-dir", str(ds)])
    assert result.exit_code == 1 and "--name needs exactly one SOURCE" in result.output
