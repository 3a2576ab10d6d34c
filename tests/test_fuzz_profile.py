"""`make test` runs the property-based tests with few examples, `make fuzz` only them with many more."""

import ast
import re
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


def _given_tests(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            decorators = [ast.unparse(d) for d in node.decorator_list]
            if any(d.startswith("given(") for d in decorators):
                yield node.name, decorators


def test_every_property_test_is_marked_and_leaves_example_counts_to_the_profile():
    for path in (ROOT / "tests").rglob("test_*.py"):
        if path.name == Path(__file__).name:
            continue
        text = path.read_text(encoding="utf-8")
        file_marked = "pytestmark = pytest.mark.property" in text
        for name, decorators in _given_tests(ast.parse(text)):
            assert file_marked or any("mark.property" in d for d in decorators), f"{path.name}::{name} unmarked"
        fixed = re.findall(r"max_examples=(?!examples\()", text)
        assert not fixed, f"{path.name}: a fixed max_examples ignores make fuzz; use tests.conftest.examples(n)"
