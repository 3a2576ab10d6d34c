import pytest
from hypothesis import given
from hypothesis import strategies as st

from eval.bootstrap import point_estimate
from eval.tasks.base import columns_of
from eval.tasks.norm import TASK, clean_prediction, score


def test_accuracy_and_micro_set_f1():
    records = [{"output": "高血压"}, {"output": "2型糖尿病##高血糖症"}, {"output": "脑梗死后遗症"}]
    predictions = ["高血压。\n解释：……", "高血糖症 ## 2型糖尿病", "脑梗死"]
    columns = score(predictions, records)
    assert [c["exact_match"] for c in columns] == [1.0, 0.0, 0.0]
    summary = point_estimate(columns_of(columns), TASK.summarise)
    # TP = 1 + 2 + 0, |P| = 1 + 2 + 1, |G| = 1 + 2 + 1
    assert summary["accuracy"] == pytest.approx(1 / 3)
    assert summary["set_precision"] == pytest.approx(3 / 4)
    assert summary["set_recall"] == pytest.approx(3 / 4)
    assert summary["set_f1"] == pytest.approx(2 * 3 / 8)


def test_repeated_terms_count_once():
    # CHIP-CDN's script would count the repeated term twice; medft scores term sets.
    columns = score(["高血压##高血压"], [{"output": "高血压"}])
    assert point_estimate(columns_of(columns), TASK.summarise)["set_precision"] == 1.0


def test_empty_predictions_score_zero_not_nan():
    summary = point_estimate(columns_of(score(["", "  "], [{"output": "a"}, {"output": "b"}])), TASK.summarise)
    assert summary == {"accuracy": 0.0, "set_f1": 0.0, "set_precision": 0.0, "set_recall": 0.0}


def test_prediction_cleaning():
    assert clean_prediction("\n  肺恶性肿瘤。 \n其他") == "肺恶性肿瘤"
    assert clean_prediction("   ") == ""


TERMS = st.lists(st.text(alphabet="高血压糖尿病肺炎2型", min_size=1, max_size=5), min_size=1, max_size=3, unique=True)


@pytest.mark.property
@given(st.lists(st.tuples(st.text(max_size=40), st.text(max_size=40)), min_size=1, max_size=20), st.randoms())
def test_permuting_records_leaves_every_metric_unchanged(pairs, rnd):
    def summary(items):
        return point_estimate(columns_of(score([p for p, _ in items], [{"output": g} for _, g in items])),
                              TASK.summarise)

    shuffled = list(pairs)
    rnd.shuffle(shuffled)
    before = summary(pairs)
    assert summary(shuffled) == pytest.approx(before)
    assert all(0.0 <= value <= 1.0 for value in before.values()), before


@pytest.mark.property
@given(st.lists(TERMS, min_size=1, max_size=10))
def test_a_perfect_prediction_scores_the_maximum(golds):
    answers = ["##".join(terms) for terms in golds]
    summary = point_estimate(columns_of(score(answers, [{"output": a} for a in answers])), TASK.summarise)
    assert summary == {"accuracy": 1.0, "set_f1": 1.0, "set_precision": 1.0, "set_recall": 1.0}


def test_only_a_final_full_stop_is_removed():
    assert clean_prediction("凝血因子X") == "凝血因子X"  # a term may end in a Latin letter
    assert clean_prediction("  \n 高血压 。 \n第二行") == "高血压"
    assert clean_prediction("高血压。。") == "高血压"


def test_predictions_and_records_must_pair_up():
    with pytest.raises(ValueError):
        score(["高血压", "多余"], [{"output": "高血压"}])
