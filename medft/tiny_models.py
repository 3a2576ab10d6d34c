"""Offline tiny models: the embedded default for `make demo` and the tests.

Nothing here touches a hub. ``tiny_qwen`` builds a Qwen2-architecture causal LM (random,
seeded weights) with a byte-level BPE tokenizer trained on a Chinese medical corpus shipped
in ``medft/assets``, so LLaMA-Factory's ``template: qwen`` trains, merges and predicts with
it exactly as with Qwen2.5. ``tiny_bert`` builds a character-vocabulary BERT that
bert-score can load from a local path. Both are deterministic for a seed and cached under
``<cache>/tiny/`` (built in a temporary directory, renamed into place under a file lock, so
parallel test workers never see half a model).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from filelock import FileLock

from medft.corpus import corpus_lines
from medft.paths import cache_dir

#: Bump when the recipe below changes, so stale caches are rebuilt rather than reused.
BUILD_VERSION = 1

QWEN_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
BERT_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
#: bert-score with transformers 5 overflows unless the tokenizer states a finite max length.
BERT_MAX_LENGTH = 512


def build_atomically(target: Path, build) -> Path:
    """Run ``build(tmp_dir)`` and rename the result to ``target`` unless another process won the race."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").exists():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            build(tmp)
            # mkdtemp makes a private 0700 directory; a cache is meant to be shared like any output.
            for path in [tmp, *tmp.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)
            tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def _train_bpe_tokenizer(vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=QWEN_SPECIAL_TOKENS,
        # Every byte is in the vocabulary, so any text (English, rare characters) still encodes.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus_lines(), trainer=trainer)
    return tokenizer


def _build_qwen(out: Path, seed: int, vocab_size: int, hidden_size: int) -> None:
    import torch
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_bpe_tokenizer(vocab_size),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
        model_max_length=4096,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.save_pretrained(out)

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.pad_token_id = config.pad_token_id
    model.generation_config.eos_token_id = config.eos_token_id
    model.save_pretrained(out)


def _build_bert(out: Path, seed: int, hidden_size: int) -> None:
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    chars = sorted({ch for line in corpus_lines() for ch in line if not ch.isspace()})
    ascii_chars = [chr(c) for c in range(33, 127)]
    # Word pieces: BERT's basic tokenizer splits CJK into single characters but keeps other runs (ASCII,
    # symbols like ℃) as words, so continuation pieces ("##a") keep them from becoming [UNK].
    pieces = sorted(set(chars) | set(ascii_chars))
    vocab = BERT_SPECIAL_TOKENS + pieces + [f"##{c}" for c in pieces]
    vocab_file = out / "vocab.txt"
    out.mkdir(parents=True, exist_ok=True)
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(vocab={token: i for i, token in enumerate(vocab)}, do_lower_case=False,
                              model_max_length=BERT_MAX_LENGTH)
    tokenizer.save_pretrained(out)

    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=hidden_size * 2,
        max_position_embeddings=BERT_MAX_LENGTH,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(out)


def tiny_qwen(seed: int = 0, vocab_size: int = 1200, hidden_size: int = 32, root: Path | None = None) -> Path:
    """Return the directory of a cached tiny Qwen2 model + tokenizer, building it if needed."""
    name = f"qwen2-v{BUILD_VERSION}-h{hidden_size}-v{vocab_size}-s{seed}"
    target = (root or cache_dir() / "tiny") / name
    return build_atomically(target, lambda out: _build_qwen(out, seed, vocab_size, hidden_size))


def tiny_bert(seed: int = 0, hidden_size: int = 32, root: Path | None = None) -> Path:
    """Return the directory of a cached tiny character-vocabulary BERT, building it if needed."""
    name = f"bert-v{BUILD_VERSION}-h{hidden_size}-s{seed}"
    target = (root or cache_dir() / "tiny") / name
    return build_atomically(target, lambda out: _build_bert(out, seed, hidden_size))
