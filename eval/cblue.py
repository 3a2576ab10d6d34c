"""The official CBLUE IMCS-V2 MRG score, reproduced exactly and fast.

The leaderboard number comes from imcs21-cblue ``task3/eval_task3.py``, which hands each report to
PyPI ``rouge`` 1.0.1. That package's behaviour *is* the metric, so it is followed here rule by rule:

- a report is linearised as ``key：value`` pairs joined with nothing, in the dict's own key order
  (extra keys kept, missing sections simply absent), then its characters are joined by spaces;
- "sentences" are the pieces between ASCII ``.`` (so ``38.5`` splits a sentence); whitespace vanishes
  (the characters are re-split on whitespace); a leading or trailing empty piece is dropped, an
  interior one stays as an empty sentence whose single token is ``""``;
- ROUGE-1/2 use n-gram *sets* over all sentences' tokens concatenated, F = 2PR/(P+R+1e-8);
- ROUGE-L is summary-level: for each reference sentence and each hypothesis sentence one LCS is
  reconstructed by the package's own backtracking (match → diagonal; else up if the cell above is
  strictly larger, otherwise left), the *distinct* tokens of all those LCSs are pooled, and that
  count is divided by the numbers of distinct tokens in the reference and the hypothesis;
- an empty hypothesis (no sentence left: ``""`` or ``"."``) makes ``rouge`` raise, and the script then
  scores the whole dialogue 0 on all three metrics, even for references already scored.

``rouge`` 1.0.1 fills an O(n·m) dict and backtracks recursively (a ~1,000-character sentence exceeds
Python's recursion limit there); here the LCS table is kept as one bit-vector per column and the
path is walked iteratively, so the numbers are identical and long reports cost milliseconds. The
test suite proves equality against the pinned package on thousands of generated report pairs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: The separator between a section name and its text in the official linearisation (full-width colon).
KEY_SEPARATOR = "："
_F_EPSILON = 1e-8


class EmptyReport(ValueError):
    """The text has no sentence left after ``rouge``'s splitting: the official script scores it 0."""


def linearise(report: Mapping[str, str]) -> str:
    """``key：value`` for every item of ``report`` in its own order, joined with nothing."""
    return "".join(f"{key}{KEY_SEPARATOR}{value}" for key, value in report.items())


def sentences(text: str) -> list[list[str]]:
    """The token lists ``rouge`` 1.0.1 sees for ``' '.join(text)``: one list of characters per sentence."""
    pieces = text.split(".")
    last = len(pieces) - 1
    out = []
    for index, piece in enumerate(pieces):
        # ' '.join(text) puts a space on the inner side of every "."; only the outer ends can be empty.
        if not piece and (index == 0 or index == last):
            continue
        tokens = [ch for ch in piece if not ch.isspace()]
        out.append(tokens or [""])
    return out


def _ngram_set(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def _f(overlap: int, hyp_count: int, ref_count: int) -> float:
    precision = overlap / hyp_count if hyp_count else 0.0
    recall = overlap / ref_count if ref_count else 0.0
    return 2.0 * ((precision * recall) / (precision + recall + _F_EPSILON))


def rouge_n(hyp: list[list[str]], ref: list[list[str]], n: int) -> float:
    """ROUGE-N F over n-gram sets of the concatenated sentences."""
    hyp_grams = _ngram_set([t for s in hyp for t in s], n)
    ref_grams = _ngram_set([t for s in ref for t in s], n)
    return _f(len(hyp_grams & ref_grams), len(hyp_grams), len(ref_grams))


def lcs_tokens(x: Sequence[str], y: Sequence[str]) -> list[str]:
    """The LCS of ``x`` and ``y`` that ``rouge`` 1.0.1's ``_recon_lcs`` reconstructs (elements of ``x``).

    Column j of the DP table (``x[:i]`` against ``y[:j]``) is kept as Hyyrö's bit-vector ``V_j``: bit
    i-1 is cleared where the LCS grows, so ``T[i][j] = i − popcount(V_j & (2**i − 1))``.
    """
    n, m = len(x), len(y)
    if n == 0 or m == 0:
        return []
    masks: dict[str, int] = {}
    for i, token in enumerate(x):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << n) - 1
    columns = [full]
    v = full
    for token in y:
        u = v & masks.get(token, 0)
        v = ((v + u) | (v - u)) & full
        columns.append(v)

    def table(i: int, j: int) -> int:
        return i - (columns[j] & ((1 << i) - 1)).bit_count() if i and j else 0

    path = []
    i, j = n, m
    while i and j:
        if x[i - 1] == y[j - 1]:
            path.append(x[i - 1])
            i, j = i - 1, j - 1
        elif table(i - 1, j) > table(i, j - 1):
            i -= 1
        else:
            j -= 1
    path.reverse()
    return path


def rouge_l(hyp: list[list[str]], ref: list[list[str]]) -> float:
    """Summary-level union-LCS ROUGE-L F over distinct tokens, as ``rouge_l_summary_level``."""
    ref_distinct = len({t for s in ref for t in s})
    hyp_distinct = len({t for s in hyp for t in s})
    union: set[str] = set()
    for ref_sentence in ref:
        for hyp_sentence in hyp:
            union.update(lcs_tokens(ref_sentence, hyp_sentence))
    return _f(len(union), hyp_distinct, ref_distinct)


def rouge_scores(hypothesis: str, reference: str) -> tuple[float, float, float]:
    """(ROUGE-1 F, ROUGE-2 F, ROUGE-L F) of two linearised reports; EmptyReport where ``rouge`` raises."""
    hyp, ref = sentences(hypothesis), sentences(reference)
    if not hyp:
        raise EmptyReport("hypothesis is empty")
    if not ref:
        raise EmptyReport("reference is empty")
    return rouge_n(hyp, ref, 1), rouge_n(hyp, ref, 2), rouge_l(hyp, ref)


def dialogue_scores(prediction: Mapping[str, str], references: Sequence[Mapping[str, str]]) -> tuple[float, ...]:
    """One dialogue's (R-1, R-2, R-L): the mean over its reference reports; all 0 when ``rouge`` raises."""
    if not references:
        return 0.0, 0.0, 0.0
    hypothesis = linearise(prediction)
    totals = [0.0, 0.0, 0.0]
    try:
        for reference in references:
            for k, value in enumerate(rouge_scores(hypothesis, linearise(reference))):
                totals[k] += value
    except EmptyReport:
        return 0.0, 0.0, 0.0
    return tuple(total / len(references) for total in totals)
