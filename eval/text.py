"""Character-level text metrics for Chinese: ROUGE (CBLUE-style and LCS) without a tokenizer.

Why characters: the ``rouge_score`` package drops non-ASCII tokens (Chinese scores ≈ 0), and the
CBLUE leaderboard and PromptCBLUE both score Chinese by characters. Whitespace is removed before
scoring; all other characters (punctuation included) count, as in the CBLUE scripts, which join
characters with spaces and hand them to the PyPI ``rouge`` 1.0.1 package.
"""

from __future__ import annotations


def chars(text: str) -> list[str]:
    """Split ``text`` into its non-whitespace characters."""
    return [ch for ch in text if not ch.isspace()]


def lcs_length(a: str | list[str], b: str | list[str]) -> int:
    """Length of the longest common subsequence of two sequences.

    Bit-parallel (Allison–Dix / Hyyrö): one big-integer update per element of ``b``, so two
    2,000-character o1 answers take milliseconds instead of the seconds of the O(n·m) table.
    """
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, item in enumerate(a):
        masks[item] = masks.get(item, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for item in b:
        u = v & masks.get(item, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def _ngram_set(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def rouge_n_f(candidate: str, reference: str, n: int) -> float:
    """ROUGE-N F1 over *sets* of character n-grams, as PyPI ``rouge`` 1.0.1 (the CBLUE scorer) counts them."""
    cand, ref = _ngram_set(chars(candidate), n), _ngram_set(chars(reference), n)
    if not cand or not ref:
        return 0.0
    overlap = len(cand & ref)
    precision, recall = overlap / len(cand), overlap / len(ref)
    return 0.0 if overlap == 0 else 2 * precision * recall / (precision + recall)


def rouge_l_f(candidate: str, reference: str) -> float:
    """Character ROUGE-L F1 (harmonic mean of LCS precision and recall)."""
    cand, ref = chars(candidate), chars(reference)
    lcs = lcs_length(ref, cand)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(cand), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def rouge_l_cblue(candidate: str, reference: str) -> float:
    """Character ROUGE-L F as PyPI ``rouge`` 1.0.1 weighs it (β = P/R), the number CBLUE reports.

    For a single sentence that package's summary-level LCS equals the plain LCS used here.
    """
    cand, ref = chars(candidate), chars(reference)
    lcs = lcs_length(ref, cand)
    if lcs == 0:
        return 0.0
    recall, precision = lcs / len(ref), lcs / len(cand)
    beta = precision / (recall + 1e-12)
    return (1 + beta**2) * recall * precision / (recall + beta**2 * precision + 1e-12)
