"""The judge-reply parsers: examples of what judges write, and properties over arbitrary replies."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eval.judge.parse import parse_scores, parse_winner, score_value, winner_value
from eval.judge.rubric import load
from tests.conftest import examples

DIMENSIONS = load("medical_zh").keys
KEYS = [key for key, _ in DIMENSIONS]
PROFILE = settings(max_examples=examples(150), deadline=None)


@pytest.mark.parametrize("reply", [
    '{"reason": "正确", "accuracy": 4, "safety": 5, "completeness": 3, "relevance": 4, "fluency": 2}',
    '好的，评分如下：\n```json\n{"accuracy": "4", "safety": "5分", "completeness": 3.0, "relevance": "4/5", '
    '"fluency": 2}\n```\n以上。',
    '{"scores": {"医学准确性": 4, "安全性": 5, "完整性": 3, "相关性": 4, "流畅性": 2}, "理由": "…"}',
    '｛“accuracy”：4，“safety”：5，“completeness”：3，“relevance”：4，“fluency”：2｝',
    "医学准确性：4\n安全性：5\n完整性：3\n相关性：4\n流畅性：2",
    '{"accuracy": 4, "safety": 5, "completeness": 3, "relevance": 4, "fluency": 2',  # cut off, yet all there
    '{"accuracy": 9} 更正：{"accuracy": 4, "safety": 5, "completeness": 3, "relevance": 4, "fluency": 2}',
])
def test_scores_in_the_forms_judges_write(reply):
    assert parse_scores(reply, DIMENSIONS) == dict(zip(KEYS, [4, 5, 3, 4, 2], strict=True))


@pytest.mark.parametrize("reply", [
    "", "\n\n\n", "科̨脉</�ia:�化治疗", '{"accuracy": 4}',  # garbage, or a dimension missing
    '{"accuracy": 6, "safety": 5, "completeness": 3, "relevance": 4, "fluency": 2}',  # out of range
    '{"accuracy": 0, "safety": 5, "completeness": 3, "relevance": 4, "fluency": 2}',
    '{"accuracy": true, "safety": 5, "completeness": 3, "relevance": 4, "fluency": 2}',
    '{"accuracy": 3.5, "safety": 5, "completeness": 3, "relevance": 4, "fluency": 2}',
    "医学准确性：4 医学准确性：2\n安全性：5\n完整性：3\n相关性：4\n流畅性：2",  # contradicts itself
    '{"accuracy": 4, "safety": 5, "completeness": 3, "rel',  # cut off by the token budget
])
def test_unusable_replies_are_none_not_a_score(reply):
    assert parse_scores(reply, DIMENSIONS) is None


@pytest.mark.parametrize("reply,winner", [
    ('{"reason": "A更准确", "winner": "A"}', "A"), ('{"winner": "b"}', "B"), ('{"winner": "tie"}', "tie"),
    ('结论：```json\n{"胜者": "平局"}\n```', "tie"), ('｛“winner”：“Ｂ”｝', "B"), ('{"winner": "回答A"}', "A"),
    ('"winner": "A"', "A"), ('{"winner": "C"}', None), ('{"winner": 1}', None), ("A更好", None), ("", None),
    ('"winner": "A" ... "winner": "B"', None),
])
def test_winner_spellings(reply, winner):
    assert parse_winner(reply) == winner


@pytest.mark.property
@PROFILE
@given(st.text())
def test_parsers_never_raise_on_any_text(text):
    scores = parse_scores(text, DIMENSIONS)
    assert scores is None or (set(scores) == set(KEYS) and all(1 <= v <= 5 for v in scores.values()))
    assert parse_winner(text) in (None, "A", "B", "tie")


_scores = st.fixed_dictionaries({key: st.integers(1, 5) for key in KEYS})
_prose = st.text(alphabet=st.characters(blacklist_characters="{}\"“”：:0123456789", blacklist_categories=("Cs",)),
                 max_size=40)


@pytest.mark.property
@PROFILE
@given(_scores, _prose, _prose, st.booleans(), st.sampled_from(["key", "name"]), st.sampled_from([None, 2]))
def test_any_valid_reply_parses_back_to_its_scores(scores, before, after, fenced, naming, indent):
    names = dict(DIMENSIONS)
    body = {"reason": "理由", **{(k if naming == "key" else names[k]): v for k, v in scores.items()}}
    text = json.dumps(body, ensure_ascii=False, indent=indent)
    reply = before + ("```json\n" + text + "\n```" if fenced else text) + after
    assert parse_scores(reply, DIMENSIONS) == scores


@pytest.mark.property
@PROFILE
@given(_scores, st.sampled_from(KEYS), st.one_of(st.integers(max_value=0), st.integers(min_value=6)))
def test_one_out_of_range_score_spoils_the_reply(scores, key, bad):
    assert parse_scores(json.dumps({**scores, key: bad}), DIMENSIONS) is None


@pytest.mark.property
@PROFILE
@given(st.sampled_from(["A", "B", "tie"]), _prose, _prose)
def test_any_valid_verdict_parses_back(winner, before, after):
    assert parse_winner(before + json.dumps({"reason": "…", "winner": winner}) + after) == winner


def test_value_helpers():
    assert [score_value(v) for v in (4, 4.0, "4", " 4 分", "4/5", "4分/5分")] == [4] * 6
    assert [score_value(v) for v in (None, [4], "four", "45", 4.5, False)] == [None] * 6
    assert winner_value(" Tie ") == "tie" and winner_value(None) is None


def test_dimension_names_count_in_json_where_the_line_reading_cannot_help():
    # 4.0 is a valid JSON score but not a "名称：4" line (a digit then "."), so only the JSON reading finds these.
    names = dict(DIMENSIONS)
    reply = json.dumps({names[k]: float(v) for k, v in zip(KEYS, [4, 5, 3, 4, 2], strict=True)}, ensure_ascii=False)
    assert parse_scores(reply, DIMENSIONS) == dict(zip(KEYS, [4, 5, 3, 4, 2], strict=True))
    flat = json.dumps({**{k: float(v) for k, v in zip(KEYS, [4, 5, 3, 4, 2], strict=True)}, "meta": {"x": 1}})
    assert parse_scores(flat, DIMENSIONS) == dict(zip(KEYS, [4, 5, 3, 4, 2], strict=True))  # nested object after


def test_nothing_to_score_or_not_text_is_none():
    assert parse_scores('{"accuracy": 4}', []) is None
    assert parse_scores(None, DIMENSIONS) is None and parse_winner(None) is None


@pytest.mark.parametrize("reply", ["Winner: B", "winner: b", 'WINNER: "b"'])
def test_a_plain_winner_line_in_any_case(reply):
    assert parse_winner(reply) == "B"


def test_the_scan_goes_on_after_text_that_is_not_json():
    # Float scores, so the "名称：4" line reading cannot rescue a scan that stopped early.
    verdict = json.dumps({**{k: float(v) for k, v in zip(KEYS, [4, 5, 3, 4, 2], strict=True)}, "meta": {"x": 1}})
    expected = dict(zip(KEYS, [4, 5, 3, 4, 2], strict=True))
    assert parse_scores("{" + verdict, DIMENSIONS) == expected          # a stray brace right before
    assert parse_scores("{坏的 { 也坏 " + verdict, DIMENSIONS) == expected  # two broken starts
    assert parse_scores('{"note": 1} ' + verdict, DIMENSIONS) == expected  # an object without scores first


# The brace scanner, pinned case by case (mutation testing found these untested after the last-verdict rewrite).
DIM = [("accuracy", "准确性")]
#: An answer's injected score, quoted before the verdict: the line reader sees two scores and gives up, so
#: each case below is read by the brace scanner alone.
QUOTED = "被评回答自称 accuracy=5。\n"


def test_braces_inside_a_string_value_do_not_hide_the_verdict():
    # Counting every brace pairs "{" with the "}" inside the string: only the string-aware pass finds it.
    assert parse_scores(QUOTED + '评语 {"reason": "回答里有 } 和 { 这样的符号", "accuracy": 4}', DIM) == {"accuracy": 4}


def test_an_escaped_quote_does_not_end_the_string():
    assert parse_scores(QUOTED + '{"reason": "他说 \\"}\\" 然后", "accuracy": 3}', DIM) == {"accuracy": 3}


def test_a_stray_quote_ends_its_string_at_the_newline():
    # The prose's unmatched quote would swallow the verdict's keys; a newline ends it, as JSON strings hold none.
    assert parse_scores(QUOTED + '{注意"这里有个引号\n{"reason": "有 } 符号", "accuracy": 2}', DIM) == {"accuracy": 2}


def test_a_quote_outside_any_object_is_not_a_string():
    assert parse_scores(QUOTED + '他说"好 {"reason": "有 } 符号", "accuracy": 3}', DIM) == {"accuracy": 3}


def test_an_unclosed_string_inside_an_earlier_object_is_caught_by_the_brace_counting_pass():
    # The string-aware pass reads `{"专业` as the start of a string and loses the verdict; counting braces finds it.
    assert parse_scores(QUOTED + '{"x": "abc {"accuracy": 4}', DIM) == {"accuracy": 4}


def test_the_object_ends_at_its_closing_brace():
    assert parse_scores(QUOTED + '{"accuracy": 4}。', DIM) == {"accuracy": 4}
    assert parse_scores(QUOTED + '{"accuracy": 4}}', DIM) == {"accuracy": 4}


def test_text_in_braces_after_the_verdict_is_skipped_not_the_end_of_the_search():
    assert parse_scores(QUOTED + '{"accuracy": 4} 以上是结论 {不是json}', DIM) == {"accuracy": 4}


def test_the_quoted_injection_alone_is_two_scores_to_the_line_reader():
    assert parse_scores(QUOTED + "accuracy: 2", DIM) is None
