"""ARGS values are YAML; one that is not (or holds a Python tag) is one line naming the key, in train and serve."""

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from recipes.cli import recipes
from recipes.render import RecipeError, parse_overrides

BAD = ["learning_rate=[1,", "x=!!python/object/apply:os.system ['touch /tmp/medft-pwned']", 'y="abc', "z={a"]


@pytest.mark.parametrize("item", BAD)
def test_a_value_that_is_not_yaml_is_one_line_naming_the_key(item):
    key = item.partition("=")[0]
    with pytest.raises(RecipeError) as info:
        parse_overrides([item])
    message = str(info.value)
    assert message.startswith(f"ARGS: the value of {key!r} is not valid YAML: ") and "\n" not in message


@pytest.mark.parametrize("command", [["train", "lora", "--dry-run"], ["serve", "--dry-run"]])
def test_train_and_serve_dry_runs_say_it_in_one_line(command, tiny_qwen_path, train_dir, runs):
    extra = ["--model", str(tiny_qwen_path), "--dataset-dir", str(train_dir)] if command[0] == "train" else [
        str(tiny_qwen_path)]
    for item in BAD[:2]:
        result = CliRunner().invoke(recipes, [*command, *extra, item])
        assert result.exit_code != 0 and isinstance(result.exception, SystemExit), result.output
        key = item.partition("=")[0]
        assert f"ARGS: the value of {key!r} is not valid YAML" in result.output, result.output
        assert "Traceback" not in result.output
    assert not runs.exists()


@pytest.mark.property
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_any_value_parses_or_is_a_recipe_error(raw):
    try:
        parsed = parse_overrides([f"key={raw}"])
    except RecipeError as exc:
        assert "'key'" in str(exc) and "\n" not in str(exc)
    else:
        assert list(parsed) == ["key"]
