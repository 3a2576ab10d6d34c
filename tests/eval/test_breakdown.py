"""Per-category table and chart: only for sets that have categories; drawable labels; deterministic bytes."""

from eval import breakdown

RESULTS = {
    "base": {"med_cmb_test": {"task": "mcq", "n": 4, "metrics": {"score": 0.5, "category/医师考试": 0.5,
                                                                  "category/Custom": 0.25, "subject/执业医师": 0.5},
                              "ci": {"category/医师考试": [0.0, 1.0]}},
             "med_norm_test": {"task": "norm", "n": 3, "metrics": {"accuracy": 1.0}, "ci": {}}},
    "tuned": {"med_cmb_test": {"task": "mcq", "n": 4, "metrics": {"score": 0.75, "category/医师考试": 1.0,
                                                                   "category/Custom": 0.5, "subject/执业医师": 1.0},
                               "ci": {}, "delta": {"category/医师考试": {"value": 0.5, "ci": [0.1, 0.9],
                                                                         "significant": True}}}},
}


def test_only_sets_with_categories_are_broken_down(tmp_path):
    assert breakdown.broken_down(RESULTS) == ["med_cmb_test"]
    assert breakdown.groups(RESULTS, "med_cmb_test") == ["医师考试", "Custom"]
    assert breakdown.groups(RESULTS, "med_cmb_test", "subject") == ["执业医师"]
    assert breakdown.write({"m": {"med_norm_test": RESULTS["base"]["med_norm_test"]}}, tmp_path) == []
    assert not list(tmp_path.iterdir())


def test_table_and_chart(tmp_path):
    paths = breakdown.write(RESULTS, tmp_path, level=0.9)
    assert [p.name for p in paths] == ["categories.md", "categories_med_cmb_test.png"]
    text = paths[0].read_text(encoding="utf-8")
    assert "| 医师考试 | 0.500 [0.000, 1.000] | 1.000 | +0.500 [+0.100, +0.900] * |" in text
    assert "[90 % paired-bootstrap CI]" in text and "## med_cmb_test by subject (n=4)" in text
    again = breakdown.write(RESULTS, tmp_path / "again", level=0.9)
    assert again[1].read_bytes() == paths[1].read_bytes()
    labels = breakdown._labels(["医师考试", "Custom", "某考试"])
    assert labels in (["医师考试", "Custom", "某考试"], ["Physician", "Custom", "#3"])
