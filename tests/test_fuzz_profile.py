"""`make test` runs the property-based tests with few examples, `make fuzz` only them with many more."""

import subprocess
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]


def test_profiles_and_marker(pytestconfig):
    assert any(line.startswith("property:") for line in pytestconfig.getini("markers"))
    assert settings.get_profile("fuzz").max_examples > settings.get_profile("medft").max_examples
    assert settings.get_profile("medft").derandomize, "make test tries the same inputs every run"


def test_make_fuzz_selects_the_property_tests_with_the_fuzz_profile():
    dry = subprocess.run(["make", "-n", "fuzz", "FUZZ_EXAMPLES=77"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    joined = dry.replace("\\\n", " ")
    line = joined[joined.index("HYPOTHESIS_PROFILE"):]
    assert "HYPOTHESIS_PROFILE=fuzz" in line and "MEDFT_FUZZ_EXAMPLES=77" in line and "-m property" in line


def test_every_property_test_is_marked():
    for path in (ROOT / "tests").rglob("test_*.py"):
        text = path.read_text(encoding="utf-8")
        if "@given(" in text:
            assert "pytestmark = pytest.mark.property" in text or "@pytest.mark.property" in text, path.name
