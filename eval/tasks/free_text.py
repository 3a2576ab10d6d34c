"""dialog and o1: free-text answers scored against the reference answer.

Metrics: character ``rougeL`` F1 of the whole answer; ``answer_rougeL`` compares only the final answers
(after the last answer marker bridge's o1 converter writes: ``### 答案：``, ``### Answer:`` or
``</think>``, see ``bridge.o1.ANSWER_MARKERS``), so a reasoning model is not rewarded for copying the
chain of thought's wording alone. With a BERT model, ``bertscore_f1`` (and for o1 ``answer_bertscore_f1``).
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.o1 import after_last_marker
from eval.tasks.base import Columns, Task
from eval.text import rouge_l_f


def split_answer(text: str) -> str:
    """The final answer of a reasoning response, stripped: the text after its last o1 answer marker
    (either language, either form), else all of it."""
    answer = after_last_marker(text)
    return (text if answer is None else answer).strip()


def _answer_rouge(predicted: str, gold: str) -> float:
    # A reference with nothing after its marker is matched only by a prediction with nothing there either
    # (as mrg scores an empty section); ROUGE alone would give 0 to every prediction, the exact one too.
    return rouge_l_f(predicted, gold) if gold else float(not predicted)


def score(predictions: Sequence[str], records: Sequence[dict]) -> Columns:
    """Per record: character ``rougeL`` and ``answer_rougeL`` against the reference ``output``."""
    columns = []
    for prediction, record in zip(predictions, records, strict=True):
        reference = str(record["output"])
        columns.append({"rougeL": rouge_l_f(prediction, reference),
                        "answer_rougeL": _answer_rouge(split_answer(prediction), split_answer(reference))})
    return columns


def _bertscore(answers_too: bool):
    def columns(predictions: Sequence[str], records: Sequence[dict], bert_model: str) -> dict[str, list[float]]:
        from eval.bertscore import bertscore_f1

        out = {"bertscore_f1": bertscore_f1(predictions, [str(r["output"]) for r in records], bert_model)}
        if answers_too:
            out["answer_bertscore_f1"] = bertscore_f1([split_answer(p) for p in predictions],
                                                      [split_answer(str(r["output"])) for r in records], bert_model)
        return out

    columns.__doc__ = "BERTScore F1 of the whole answer" + (" and of the final answer." if answers_too else ".")
    return columns


DIALOG = Task("dialog", score, headline="rougeL", max_new_tokens=384, bertscore=_bertscore(answers_too=False))
O1 = Task("o1", score, headline="rougeL", max_new_tokens=1024, bertscore=_bertscore(answers_too=True))
