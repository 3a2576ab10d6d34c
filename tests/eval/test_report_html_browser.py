"""report.html in a real headless Chromium, offline: no console errors, no network, the summary equals
report.json, Δ sorting puts the largest regression first, flagged records are shown flagged, a hostile
answer stays text. Screenshots go to $MEDFT_SCREENSHOTS when set (look at them)."""

import json
import os
from pathlib import Path

import pytest

from bench.bench_report import HOSTILE, write_sample_report
from eval.formatting import format_delta, format_value
from eval.tasks import TASKS
from tests.chromium import INSTALL_HINT, Browser, find_chromium

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    executable = find_chromium()
    if executable is None:
        if os.environ.get("MEDFT_REQUIRE_CHROMIUM"):
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)
    out = tmp_path_factory.mktemp("report")
    report = write_sample_report(out, n=40)
    with Browser(executable) as browser:
        browser.open(out / "report.html")
        yield browser, report, out


def _shots() -> Path | None:
    target = os.environ.get("MEDFT_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
    return Path(target) if target else None


def _select(browser, control: str, value: str) -> None:
    browser.js(f"(function(){{var s=document.getElementById({json.dumps(control)}); s.value={json.dumps(value)};"
               "s.dispatchEvent(new Event('change')); return s.value;})()")


def _rows(browser) -> list[dict]:
    return browser.js("""Array.from(document.querySelectorAll('#examples-table tr[data-index]')).map(function (tr) {
        var d = tr.querySelector('td.delta');
        return {index: +tr.getAttribute('data-index'), delta: d ? d.getAttribute('data-delta') : null,
                flagged: tr.classList.contains('flagged'),
                flags: Array.from(tr.querySelectorAll('.flag')).map(function (f) {
                    return f.getAttribute('data-flag'); })};
    })""")


def _scores(out: Path, model: str, dataset: str) -> list[dict]:
    lines = (out / "scores" / model / f"{dataset}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_the_page_loads_offline_without_errors(page):
    browser, _, _ = page
    assert browser.js("document.body.getAttribute('data-ready')") == "1", "the script ran to its end"
    assert browser.errors == []
    outside = [u for u in browser.requests if not u.startswith(("file:", "data:"))]
    assert outside == [], "the page reaches for nothing outside itself"
    shots = _shots()
    if shots:
        browser.screenshot(shots / "report_top.png")


def test_the_summary_shows_report_json(page):
    browser, report, _ = page
    cells = browser.js("""Array.from(document.querySelectorAll('td[data-metric]')).map(function (td) {
        return [td.dataset.model, td.dataset.dataset, td.dataset.metric, td.textContent]; })""")
    deltas = browser.js("""Array.from(document.querySelectorAll('td[data-delta]')).filter(function (td) {
        return td.dataset.dataset; }).map(function (td) {
        return [td.dataset.model, td.dataset.dataset, td.dataset.delta, td.textContent]; })""")
    expected = {(m, d, k): format_value(v, e["ci"][k]) for m, per in report["results"].items()
                for d, e in per.items() for k, v in e["metrics"].items()}
    assert {(m, d, k): text for m, d, k, text in cells} == expected
    expected_deltas = {(m, d, k): format_delta(v) for m, per in report["results"].items() for d, e in per.items()
                       for k, v in (e.get("delta") or {}).items()}
    assert {(m, d, k): text for m, d, k, text in deltas} == expected_deltas
    warnings = browser.js("Array.from(document.querySelectorAll('.warnings p')).map(function (p) {"
                          " return p.textContent; })")
    assert any("tuned · med_mrg_test" in line and "unparsed reports" in line for line in warnings)


@pytest.mark.parametrize("dataset", ["med_norm_test", "med_mrg_test"])
def test_sorting_by_delta_puts_the_largest_regression_first(page, dataset):
    browser, report, out = page
    names = report["datasets"]
    _select(browser, "ctl-dataset", str(names.index(dataset)))
    _select(browser, "ctl-model", "1")
    _select(browser, "ctl-flag", "")
    _select(browser, "ctl-sort", "index")
    assert [r["index"] for r in _rows(browser)][:3] == [0, 1, 2]
    _select(browser, "ctl-sort", "delta-asc")
    task = TASKS[report["results"]["base"][dataset]["task"]]
    base, tuned = _scores(out, "base", dataset), _scores(out, "tuned", dataset)
    deltas = [task.score_of(t) - task.score_of(b) for b, t in zip(base, tuned, strict=True)]
    worst = min(range(len(deltas)), key=lambda i: (deltas[i], i))
    rows = _rows(browser)
    assert deltas[worst] < 0, "the sample has a regression to find"
    assert rows[0]["index"] == worst and float(rows[0]["delta"]) == pytest.approx(deltas[worst])
    shown = [float(r["delta"]) for r in rows]
    assert shown == sorted(shown)
    shots = _shots()
    if shots:
        browser.js("document.getElementById('examples').scrollIntoView()")
        browser.screenshot(shots / f"report_sorted_{dataset}.png")


def test_a_flagged_record_is_shown_flagged(page):
    browser, report, out = page
    dataset = "med_mrg_test"
    _select(browser, "ctl-dataset", str(report["datasets"].index(dataset)))
    _select(browser, "ctl-sort", "index")
    _select(browser, "ctl-flag", "unparsed")
    flagged = [r["index"] for r in _scores(out, "tuned", dataset) if "unparsed" in r["flags"]]
    either = sorted({r["index"] for m in ("base", "tuned", "other") for r in _scores(out, m, dataset)
                     if "unparsed" in r["flags"]})
    rows = _rows(browser)
    assert [r["index"] for r in rows] == either[:50]
    first_tuned = next(r for r in rows if r["index"] == flagged[0])
    assert first_tuned["flagged"] and "unparsed" in first_tuned["flags"]


def test_a_hostile_answer_stays_text(page):
    browser = page[0]
    assert browser.js("document.title").startswith("medft evaluation")
    _select(browser, "ctl-dataset", "0")
    _select(browser, "ctl-flag", "")
    browser.js("var s=document.getElementById('ctl-search'); s.value='onerror'; s.dispatchEvent(new Event('input'));")
    texts = browser.js("Array.from(document.querySelectorAll('#examples-table .text')).map(function (t) {"
                       " return t.textContent; })")
    assert HOSTILE in texts
    assert browser.js("document.querySelectorAll('#examples-table img, #examples-table script').length") == 0
    assert browser.errors == []
