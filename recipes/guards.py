"""Pre-flight guards on what a run trains on: no held-out set, and data whose format fits the stage.

Both mistakes pass LLaMA-Factory's own argument checks. Training on a test set is silent (every later
score on it is then meaningless); a stage on the wrong kind of data fails a minute later, after the
model has loaded, or — for ``pt`` on a supervised set — trains on the prompts only without a word.

The stage rules, read from LLaMA-Factory 0.9.5 (``data/loader.py``, ``data/parser.py``,
``data/converter.py``, ``data/processor/``):

- ``_get_merged_dataset`` raises "The dataset is not applicable in the current training stage" when
  the loader stage is ``rm`` and an entry lacks ``"ranking": true``, or when it is any other stage and
  an entry has it. ``dpo`` loads its data as stage ``rm`` (``train/dpo/workflow.py``), so ``rm`` and
  ``dpo`` need ranking data (``chosen`` / ``rejected``); ``pt``, ``sft``, ``ppo`` and ``kto`` refuse it.
  The rule covers ``eval_dataset`` too.
- ``kto`` (``FeedbackDatasetProcessor``) reads a desirable / undesirable label per example from the
  boolean column named by ``columns.kto_tag``; without it every example counts as desirable. The other
  way round, a kto_tag entry gives every example two responses (one empty), which the ``sft`` processor
  drops one by one as "invalid example" — so kto data is for ``kto`` only.
- ``pt`` (``PretrainDatasetProcessor``) trains on ``_prompt[0]["content"]`` only: for alpaca, the
  ``prompt`` column joined with ``query`` by a newline; for sharegpt, the first user message. The
  response is dropped. A ``pt`` set is therefore an alpaca entry with ``columns`` naming the text as
  ``prompt`` and no ``response`` (LLaMA-Factory's ``c4_demo``: ``{"columns": {"prompt": "text"}}``); an
  entry without ``columns`` gets the default ``response: output`` and is a supervised set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: LLaMA-Factory 0.9.5's stages (FinetuningArguments.stage).
STAGES = ("pt", "sft", "rm", "ppo", "dpo", "kto")
#: Stages whose data must be ranking (preference) data; every other stage refuses it.
RANKING_STAGES = ("rm", "dpo")
ALLOW_HELDOUT_HINT = "ALLOW_HELDOUT=1 (--allow-heldout)"


def _entry_kind(entry: Mapping) -> str:
    """``ranking``, ``kto``, ``text`` (pre-training) or ``supervised``: what LLaMA-Factory will read."""
    columns = entry.get("columns")
    if entry.get("ranking") is True:
        return "ranking"
    if isinstance(columns, Mapping) and columns.get("kto_tag"):
        return "kto"
    if entry.get("formatting", "alpaca") == "alpaca" and isinstance(columns, Mapping) and not columns.get("response"):
        return "text"
    return "supervised"


def check_stage(config: Mapping, info: Mapping, names: Mapping[str, Sequence[str]]) -> list[str]:
    """One line per dataset whose format the recipe's ``stage`` cannot train on (``names``: key -> datasets)."""
    stage = config.get("stage", "sft")
    if stage not in STAGES:
        return [f"stage {stage!r} is not a LLaMA-Factory stage; choose one of {', '.join(STAGES)}"]
    errors = []
    for key, datasets in names.items():
        for name in datasets:
            entry = info.get(name)
            if not isinstance(entry, Mapping):
                continue  # check_datasets reports unregistered names and broken entries
            kind = _entry_kind(entry)
            if stage in RANKING_STAGES and kind != "ranking":
                errors.append(f"{key}: stage {stage} needs preference data (\"ranking\": true with chosen/rejected "
                              f"columns in dataset_info.json); {name!r} is {kind} data — use stage=sft for it")
            elif stage not in RANKING_STAGES and kind == "ranking":
                errors.append(f"{key}: {name!r} is preference (ranking) data, which stage {stage} cannot read; "
                              "train it with stage=dpo or stage=rm")
            elif stage != "kto" and kind == "kto":
                errors.append(f"{key}: {name!r} is kto data (good/bad answers marked by kto_tag), which stage "
                              f"{stage} cannot read; train it with stage=kto")
            elif stage == "kto" and kind != "kto":
                errors.append(f"{key}: stage kto needs a boolean kto_tag column (columns.kto_tag in "
                              f"dataset_info.json) marking each answer good or bad; {name!r} has none")
            elif stage == "pt" and kind != "text":
                errors.append(f"{key}: stage pt trains on plain text, but {name!r} is {kind} data: LLaMA-Factory would "
                              "keep only its prompts and drop every response; register a text set "
                              "(\"columns\": {\"prompt\": \"text\"}) or use stage=sft")
    return errors


def check_heldout(train_names: Sequence[str], heldout: Mapping[str, str], allow: bool) -> tuple[list[str], list[str]]:
    """(errors, warnings) for training sets that bridge registered as held out (``heldout``: name -> split)."""
    errors, warnings = [], []
    for name in train_names:
        split = heldout.get(name)
        if split is None:
            continue
        what = "a held-out test set" if split == "test" else "a few-shot pool (dev)"
        if allow:
            warnings.append(f"dataset: training on {name!r}, {what}, as asked ({ALLOW_HELDOUT_HINT}): its scores "
                            "no longer measure unseen data")
        else:
            errors.append(f"dataset: {name!r} is {what} registered by bridge, not training data; train on its "
                          f"training split, or opt in with {ALLOW_HELDOUT_HINT}")
    return errors, warnings
