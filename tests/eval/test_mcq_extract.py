"""Answer extraction on the forms models really write (single and multi answer, Chinese and full-width)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eval.mcq_extract import extract_choice, final_answer

TB = {"A": "小叶型肺炎", "B": "浸润性肺结核", "C": "继发性肺结核", "D": "原发性肺结核", "E": "粟粒型肺结核"}
DRUGS = {"A": "阿司匹林", "B": "氨氯地平", "C": "二甲双胍", "D": "胰岛素", "E": "阿莫西林"}
SYMPTOMS = {"A": "发热", "B": "咳嗽", "C": "胸痛", "D": "咯血", "E": "腹泻"}
EXAMS = {"A": "B超", "B": "CT", "C": "血常规", "D": "心电图"}

# (model output, options, multi-answer question, expected letters or None)
CASES = [
    # bare letters, as an answer-only prompt asks for
    ("D", TB, False, "D"),
    ("D.", TB, False, "D"),
    ("D。", TB, False, "D"),
    (" (D) ", TB, False, "D"),
    ("【B】", TB, False, "B"),
    ("D. 原发性肺结核", TB, False, "D"),
    ("D、原发性肺结核", TB, False, "D"),
    ("D:原发性肺结核", TB, False, "D"),
    ("Ｄ", TB, False, "D"),  # full-width letter
    ("Ｄ．原发性肺结核", TB, False, "D"),
    # answer statements
    ("答案：D", TB, False, "D"),
    ("答案:D", TB, False, "D"),
    ("答案是D", TB, False, "D"),
    ("答案为：D。", TB, False, "D"),
    ("答案：Ｄ", TB, False, "D"),
    ("正确答案是D，原发性肺结核。", TB, False, "D"),
    ("正确选项为B", DRUGS, False, "B"),
    ("答案应该是C", DRUGS, False, "C"),
    ("最佳选项：E", DRUGS, False, "E"),
    ("选B", DRUGS, False, "B"),
    ("故选C。", DRUGS, False, "C"),
    ("我选择 D", DRUGS, False, "D"),
    ("B项正确", DRUGS, False, "B"),
    ("选项C是正确的。", DRUGS, False, "C"),
    ("The answer is B.", DRUGS, False, "B"),
    ("该患者最可能的诊断是原发性肺结核，答案选D。", TB, False, "D"),
    ("A项错误，小叶型肺炎多见于老年人；D项正确。", TB, False, "D"),
    # reasoning models: only the final section counts
    ("<think>\n先看A，小叶型肺炎不符合；B也不对……\n</think>\n\n答案：D", TB, False, "D"),
    ("<think>首先排除A和B。</think>D", TB, False, "D"),
    ("详细分析：A选项不符合，C选项也不对。\n### 答案：\nD. 原发性肺结核", TB, False, "D"),
    ("Detailed analysis: A and C do not fit.\n### Answer:\nD", TB, False, "D"),  # bridge.o1's English heading
    ("<think>答案：A？不对。</think>\n详细分析：……\n###答案:\nD", TB, False, "D"),  # the last marker wins
    ("分析选项A：错误。选项B：错误。综上，答案是C。", DRUGS, False, "C"),
    # the option's text instead of its letter
    ("原发性肺结核", TB, False, "D"),
    ("原发性肺结核。", TB, False, "D"),
    ("考虑为继发性肺结核", TB, False, "C"),
    ("二甲双胍", DRUGS, False, "C"),
    # multi-answer questions (多项选择题)
    ("ACD", SYMPTOMS, True, "ACD"),
    ("A、C、D", SYMPTOMS, True, "ACD"),
    ("A,B,D", SYMPTOMS, True, "ABD"),
    ("A和D", SYMPTOMS, True, "AD"),
    ("答案：A、B、C", SYMPTOMS, True, "ABC"),
    ("答案：ＡＢＣ", SYMPTOMS, True, "ABC"),
    ("正确答案是A、C", SYMPTOMS, True, "AC"),
    ("答案为 B C D", SYMPTOMS, True, "BCD"),
    ("DCA", SYMPTOMS, True, "ACD"),  # order does not matter
    ("发热、咳嗽、咯血", SYMPTOMS, True, "ABD"),
    ("AC两项正确", SYMPTOMS, True, "AC"),
    ("A和C都正确", SYMPTOMS, True, "AC"),
    ("<think>发热、咳嗽都常见……</think>\n答案：AB", SYMPTOMS, True, "AB"),
    # letters inside words are not answers
    ("B超提示肝脏回声增粗", EXAMS, False, "A"),  # the option text "B超" names A
    ("首选CT检查", EXAMS, False, "B"),
    ("应做B超检查，答案：A", EXAMS, False, "A"),
    # nothing to extract: unextracted, counted wrong
    ("", TB, False, None),
    ("   ", TB, False, None),
    ("我不知道", TB, False, None),
    ("以上都不对", TB, False, None),
    ("这个问题需要结合临床进一步检查才能判断。", TB, False, None),
    ("肺结核", TB, False, None),  # names no single option
    ("A或者B都有可能", TB, False, None),
    ("答案：F", TB, False, None),  # not one of the options
]


def test_the_table_is_big_enough():
    assert len(CASES) >= 40
    assert sum(multi for _, _, multi, _ in CASES) >= 10
    assert sum(any(ord(ch) > 0xFF00 for ch in text) for text, *_ in CASES) >= 4  # full-width forms


@pytest.mark.parametrize(("text", "options", "multi", "expected"), CASES)
def test_extraction_table(text, options, multi, expected):
    assert extract_choice(text, options, multi) == expected


def test_final_answer_sections():
    assert final_answer("<think>A</think>\nB") == "\nB"
    assert final_answer("分析……\n### 答案：\nC") == "：\nC"
    assert final_answer("D") == "D"
    assert final_answer("Detailed analysis: A?\n### Answer:\nC") == ":\nC"
    assert final_answer("### 答案：A</think>B") == "B" and final_answer("</think>A ### 答案：B") == "：B"


LETTERS = "ABCDE"
TEXTS = st.text(alphabet="发热咳嗽胸痛肺炎结核高血压糖尿病药物胰岛素检查", min_size=2, max_size=6)


@st.composite
def questions(draw):
    """Options A-E with distinct texts, and a non-empty set of answer letters."""
    texts = draw(st.lists(TEXTS, min_size=5, max_size=5, unique=True))
    # Distinct and none inside another, so the option texts alone identify the letters.
    texts = [t for t in texts if not any(t != o and t in o for o in texts)]
    options = {LETTERS[i]: t for i, t in enumerate(texts)}
    answer = draw(st.sets(st.sampled_from(sorted(options)), min_size=1, max_size=len(options))) if options else set()
    return options, "".join(sorted(answer))


@pytest.mark.property
@given(questions(), st.sampled_from(["{a}", "答案：{a}", "答案是{s}", "正确答案为{s}。", "故选{a}", "{f}",
                                     "答案：{f}", "<think>{x}</think>\n{a}", "详细分析：{x}\n### 答案：\n{s}"]))
def test_canonical_forms_extract_the_answer(question, form):
    options, answer = question
    if not answer:
        return
    text = form.format(a=answer, s="、".join(answer), x="先看选项A和B，再看C。",
                       f="".join(chr(ord(ch) + 0xFEE0) for ch in answer))  # full-width letters
    assert extract_choice(text, options, multi=len(answer) > 1) == answer


@pytest.mark.property
@given(st.text(max_size=60), questions(), st.booleans())
def test_result_is_sorted_letters_of_the_options_or_none(text, question, multi):
    options, _ = question
    result = extract_choice(text, options, multi)
    assert result is None or (list(result) == sorted(set(result)) and set(result) <= set(options))
    if result is not None and not multi and len(result) > 1:
        # several letters for a single-answer question only come from an explicit statement or a run
        assert any(ch in text.upper() or chr(ord(ch) + 0xFEE0) in text for ch in result)


@pytest.mark.property
@given(questions())
def test_option_text_names_its_letter(question):
    options, _ = question
    for letter, text in options.items():
        assert extract_choice(text, options) == letter


@pytest.mark.parametrize(("text", "expected"), [
    ("答案：A。不对，再想想，答案：C", "C"),                     # the last statement wins
    ("答案是B，但最终答案是D", "D"),
    ("选A？不，应选C。", "C"),
    ("A项正确？复核后C项正确", "C"),
])
def test_the_last_statement_wins(text, expected):
    assert extract_choice(text, DRUGS) == expected


def test_statement_kinds_are_tried_in_order():
    # An explicit 答案 statement beats a later 选 statement and a later "X项正确".
    assert extract_choice("答案：B。有人会选D", DRUGS) == "B"
    assert extract_choice("故选B。D项正确的说法不成立", DRUGS) == "B"


def test_the_longest_option_text_is_matched_first():
    options = {"A": "肺结核", "B": "继发性肺结核", "C": "肺炎"}
    assert extract_choice("继发性肺结核", options) == "B"
    assert extract_choice("肺结核", options) == "A"
    assert extract_choice("继发性肺结核和肺炎", options, multi=True) == "BC"


def test_several_letters_on_a_single_answer_question():
    # Rule 5 (letters standing alone) needs exactly one letter on a single-answer question ...
    assert extract_choice("可能是 A 也可能是 C", SYMPTOMS) is None
    assert extract_choice("可能是 A 也可能是 C", SYMPTOMS, multi=True) == "AC"
    # ... rule 4 (option texts) likewise: two named options are no answer to a single-answer question
    assert extract_choice("发热、咳嗽", SYMPTOMS) is None
    assert extract_choice("发热、咳嗽", SYMPTOMS, multi=True) == "AB"
    # ... but one option named inside a longer sentence still is.
    assert extract_choice("根据病史和体征，本例最符合的表现应当考虑咯血", SYMPTOMS) == "D"
    # A long sentence naming several options is no answer even to a multi-answer question.
    assert extract_choice("患者可出现发热，也可有咳嗽，需要结合影像学进一步检查判断", SYMPTOMS, multi=True) is None
    # An explicit statement may give several letters whatever the question type.
    assert extract_choice("答案：AC", SYMPTOMS) == "AC"


@pytest.mark.parametrize(("text", "expected"), [
    ("CT", None), ("B超", None), ("ACE抑制剂", None), ("DNA", None),  # letters inside words
    ("查CT", None), ("做B超", None),
    ("A型血", None),
])
def test_a_letter_inside_a_word_is_not_an_answer(text, expected):
    assert extract_choice(text, {"A": "一", "B": "二", "C": "三", "D": "四", "E": "五"}) == expected


@pytest.mark.parametrize("ending", ["", "。", ".", " ", "，", "、", ";", "：", "!", "？", ")", "】", "选项", "项", "是",
                                    "为", "正确", "对", "两项"])
def test_end_of_answer_words(ending):
    assert extract_choice("C" + ending, DRUGS) == "C"


@pytest.mark.parametrize("word", ["超", "型", "T", "c", "1"])
def test_a_letter_followed_by_a_word_is_not_an_answer(word):
    assert extract_choice("C" + word, DRUGS) is None


def test_only_the_options_letters_count_and_full_width_is_folded():
    assert extract_choice("答案：E", {"A": "一", "B": "二"}) is None
    assert extract_choice("答案：ＢＥ", {"A": "一", "B": "二"}) == "B"
    assert extract_choice("E", {}) == "E"  # no options given: any letter A–H
    assert extract_choice("答案：H", {}) == "H"


def test_final_answer_markers_and_the_last_one():
    assert final_answer("<think>答案：A</think>想了想</think>C") == "C"
    assert final_answer("### 答案：A\n### 答案：B") == "：B"
    assert final_answer("###答案：D") == "：D"
    assert extract_choice("<think>答案：A</think>想了想</think>答案：C", DRUGS) == "C"


def test_joining_words_are_not_letters():
    # "and" sits inside a letter run; its lower-case letters are never read as options, options or not.
    assert extract_choice("答案：A and C", {}, multi=True) == "AC"
    assert extract_choice("The answer is B and D", {}, multi=True) == "BD"


def test_option_letters_up_to_h_and_only_the_options():
    eight = {letter: f"选项{letter}" for letter in "ABCDEFGH"}
    assert extract_choice("答案：GH", eight, multi=True) == "GH"
    assert extract_choice("F", TB) is None  # TB has options A-E only: a leading F is no answer
    assert extract_choice("可能是 C 吧", {}) == "C"  # no options: any letter A-H standing alone


def test_the_slack_beside_option_texts_is_six_characters():
    assert extract_choice("发热、咳嗽，症状很常见呢", SYMPTOMS, multi=True) == "AB"      # 6 characters besides
    assert extract_choice("发热、咳嗽，这些症状很常见", SYMPTOMS, multi=True) is None  # 7
