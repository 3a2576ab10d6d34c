"""BERTScore on Chinese text with a local model, robust to transformers 5.

bert-score 0.3.13 truncates with ``tokenizer.model_max_length``; a tokenizer saved without
that field (a real bert-base-chinese from a local path, or any model dir missing
tokenizer_config.json) reports a huge sentinel and bert-score dies with
``OverflowError: int too big to convert``. We cap it at the model's position limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

#: Layer choice for bert-base-chinese from bert-score's own tuning table.
DEFAULT_LAYERS = {"bert-base-chinese": 8}


class BertScoreModelError(RuntimeError):
    """The BERTScore model could not be found or loaded."""


def _resolve_num_layers(model: str, num_layers: int | None) -> int:
    if num_layers is not None:
        return num_layers
    from bert_score.utils import model2layers

    name = Path(model).name
    if model in model2layers or name in model2layers:
        return model2layers.get(model, model2layers.get(name))
    config_file = Path(model) / "config.json"
    if config_file.exists():
        import json

        return int(json.loads(config_file.read_text(encoding="utf-8"))["num_hidden_layers"])
    return DEFAULT_LAYERS.get(name, 8)


@lru_cache(maxsize=2)
def _scorer(model: str, num_layers: int, device: str, batch_size: int):
    from bert_score import BERTScorer

    try:
        scorer = BERTScorer(model_type=model, num_layers=num_layers, device=device, batch_size=batch_size)
    except OSError as exc:
        raise BertScoreModelError(
            f"cannot load the BERTScore model {model!r}: {exc.__class__.__name__}. "
            "medft runs offline: download it once (e.g. `huggingface-cli download bert-base-chinese`) "
            "and pass its local directory, or use the tiny BERT from `medft tiny-models` for a smoke test."
        ) from exc
    position_limit = getattr(scorer._model.config, "max_position_embeddings", 512)
    if not scorer._tokenizer.model_max_length or scorer._tokenizer.model_max_length > position_limit:
        scorer._tokenizer.model_max_length = position_limit
    return scorer


def bertscore_f1(
    candidates: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    model: str,
    num_layers: int | None = None,
    device: str | None = None,
    batch_size: int = 32,
) -> list[float]:
    """Return the BERTScore F1 of each candidate against its reference(s).

    ``references[i]`` may be a string or a list of strings; with several references the best
    F1 counts (bert-score's own multi-reference rule). No idf weighting and no baseline
    rescaling, so scores are comparable across runs without a downloaded baseline file.
    Text is scored as given: BERT's tokenizer splits Chinese into characters itself. Empty text
    has no tokens to match (bert-score returns NaN for it), so an empty candidate scores 1.0
    against an empty reference and 0.0 against anything else.
    """
    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidates but {len(references)} references")
    if not candidates:
        return []
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    scorer = _scorer(str(model), _resolve_num_layers(str(model), num_layers), device, batch_size)
    refs = [[r] if isinstance(r, str) else list(r) for r in references]
    scores: list[float] = [0.0] * len(candidates)
    scored = []
    for i, (candidate, ref_group) in enumerate(zip(candidates, refs, strict=True)):
        non_empty = [r for r in ref_group if r.strip()]
        if not candidate.strip() or not non_empty:
            scores[i] = float(not candidate.strip() and len(non_empty) < len(ref_group))
        else:
            scored.append((i, candidate, non_empty))
    if scored:
        _, _, f1 = scorer.score([c for _, c, _ in scored], [r for _, _, r in scored])
        for (i, _, _), value in zip(scored, f1.tolist(), strict=True):
            scores[i] = value
    return [round(float(x), 6) for x in scores]
