"""The control model: a small Qwen2 that already knows some medical Chinese and visibly learns on 2 CPU cores.

A positive control for "did fine-tuning help?": `make demo` and the test suite fine-tune it and must see a
significant gain, so a broken template, an adapter that silently does not load or a served model that
answers differently from the trained one shows up as a number, not a shrug.

How it is built (offline, deterministic for a seed, cached like the tiny models under a file lock):

1. General text (:func:`pretraining_text`): encyclopaedia-style sentences, paragraphs about one disease and
   general questions and answers in chat markup, about the diseases, symptoms, exams, drugs and departments
   of the shipped corpus. None of it is in the format of a task (no prompt, no report, no exam question), so
   no held-out record can occur in it. Paragraphs and chats repeat names, so the model learns to copy a name
   out of its context: the skill every task's answer needs, which a 2-layer model acquires abruptly.
2. A byte-level BPE tokenizer trained on that text plus the shipped corpus *without* its raw
   term-normalisation lines: trained on raw terms, BPE merges modifier + disease into single tokens and
   unseen held-out combinations become unseen tokens (measured: DESIGN.md §7).
3. A Qwen2 of hidden 128 × 2 layers (≈0.7 M parameters): the largest that trains at thousands of tokens
   per second on one CPU thread (hidden 256 × 4 was ~8× slower), random seeded weights.
4. ``llamafactory-cli train`` with ``stage: pt`` (full, unpacked lines) on the general text: LLaMA-Factory's
   own pre-training path, as a user would run it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

from medft.corpus import DURATIONS, corpus_lines, word_lists
from medft.paths import cache_dir, find_executable
from medft.tiny_models import QWEN_SPECIAL_TOKENS, build_atomically

#: Bump when anything below changes, so stale caches are rebuilt rather than reused.
CONTROL_VERSION = 2
HIDDEN_SIZE = 128
NUM_LAYERS = 2
VOCAB_SIZE = 3000
#: How many generated lines of each kind (README "The control model" says why each is there).
FACT_LINES = 1200
PARAGRAPH_LINES = 1200
CHAT_LINES = 1000
PRETRAIN_LINES = FACT_LINES + PARAGRAPH_LINES + CHAT_LINES
#: The shipped corpus is ~70 lines: repeated so each is seen about as often as a generated line's kind.
CORPUS_REPEATS = 10
#: LLaMA-Factory `stage: pt` settings, chosen by measurement on 2 cores (README "The control model"). What matters
#: is when the model starts copying a name from its context (every task's answer needs it): unpacked lines,
#: 32 a step, copy by step ~350 for seeds 0 and 1; packed 256-token blocks (other lines' diseases in the context)
#: got there at step 250, 400 or never depending on the seed, at twice the time per step.
PRETRAIN_ARGS = {
    "stage": "pt", "do_train": True, "template": "qwen", "finetuning_type": "full", "cutoff_len": 256,
    "packing": False, "per_device_train_batch_size": 32, "gradient_accumulation_steps": 1, "learning_rate": 3.0e-3,
    "lr_scheduler_type": "cosine", "warmup_ratio": 0.05, "max_steps": 600, "logging_steps": 10,
    "save_strategy": "no", "report_to": "none", "bf16": False, "fp16": False, "overwrite_cache": True,
    "preprocessing_num_workers": 1, "dataloader_num_workers": 0, "overwrite_output_dir": True,
    "trust_remote_code": False,
}

#: Words that qualify a disease in a record ("慢性胃炎术后" is still 胃炎): the model learns to find the name.
QUALIFIERS = ["", "慢性", "急性", "左侧", "右侧", "原发性", "复发性", "继发性"]
SUFFIXES = ["", "术后", "（待查）", "伴感染", "史", "可能", "待排", "（轻度）"]
FACT_TEMPLATES = [
    "{disease}的常见表现有{s1}和{s2}，严重时可出现{s3}。",
    "{disease}患者应到{dept}就诊，常做{exam}检查。",
    "{drug}可用于治疗{disease}，用药前应咨询医生。",
    "出现{s1}时，医生常建议先做{exam}，必要时复查{exam2}。",
    "{dept}常见的疾病包括{disease}和{disease2}。",
    "{s1}伴{s2}的患者，需要排除{disease}。",
    # Phrases that repeat a name: the model learns to copy from its context, which every task needs.
    # What a medical base model knows: a recorded diagnosis with qualifiers names a standard disease. Not the
    # task's prompt (that is what fine-tuning teaches), but the knowledge the task asks for.
    "病历记录：{written}。\n规范的疾病名称：{disease}。",
    "{written}属于{disease}，应到{dept}就诊。",
    "患者自述{s1}{dur}，病历记录：{s1}{dur}。",
    "{exam}可以帮助判断{disease}的病情。",
    "长期{s1}的人应注意休息，清淡饮食，按时复查。",
]
#: A paragraph is 3-5 of these about one disease: its name recurs 10-40 tokens apart, so predicting it means
#: copying it from the context — the skill every task's answer needs (measured: without paragraphs the copy
#: appeared ~100 steps later).
PARAGRAPH_TEMPLATES = [
    "{disease}的常见表现有{s1}和{s2}，严重时可出现{s3}。",
    "{disease}患者应到{dept}就诊，常做{exam}检查。",
    "{drug}可用于治疗{disease}，用药前应咨询医生。",
    "{exam}可以帮助判断{disease}的病情。",
    "病历记录：{written}。规范的疾病名称：{disease}。",
    "{written}属于{disease}。",
    "{s1}伴{s2}的患者，需要排除{disease}。",
]
#: General questions and answers in ChatML, the chat markup Qwen base models meet in pre-training and the one
#: LLaMA-Factory's `qwen` template writes (default system prompt included; tests/medft/test_control_model.py
#: checks both against the saved chat template). None is a task's prompt. Measured: a base that has seen chat
#: answers which copy from the question learns the norm task in ~50 fine-tuning steps; one that has not, in
#: ~150 or never at a higher learning rate.
CHAT_TEMPLATES = [
    ("{disease}有哪些表现？", "{disease}的常见表现有{s1}和{s2}，严重时可出现{s3}。"),
    ("{disease}应该去哪个科室看？", "{disease}患者应到{dept}就诊，常做{exam}检查。"),
    ("{drug}能治疗{disease}吗？", "{drug}可用于治疗{disease}，用药前应咨询医生。"),
    ("病历上写着{written}，是什么病？", "{written}属于{disease}，应到{dept}就诊。"),
    ("{s1}伴{s2}要注意什么？", "{s1}伴{s2}的患者，需要排除{disease}。"),
]
QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


class ControlModelError(RuntimeError):
    """Building the control model failed; the message says which step and where its log is."""


def chatml(user: str, assistant: str, system: str = QWEN_DEFAULT_SYSTEM) -> str:
    """One exchange in ChatML, as Qwen's chat template renders it (the end-of-turn after the answer is the
    end-of-text `stage: pt` appends to every line)."""
    return (f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
            f"<|im_start|>assistant\n{assistant}")


def _fact_card(rng: random.Random, words: dict[str, list[str]]) -> str:
    """A small JSON record (indented like the reports bridge writes): teaches the model JSON's tokens."""
    s1, s2 = rng.sample(words["symptom"], 2)
    card = {"疾病": rng.choice(words["disease"]), "表现": f"{s1}，{s2}。", "检查": rng.choice(words["exam"]),
            "用药": rng.choice(words["drug"]), "科室": rng.choice(words["dept"])}
    return json.dumps(card, ensure_ascii=False, indent=rng.choice([None, 2]))


def _draw(rng: random.Random, words: dict[str, list[str]], disease: str) -> dict[str, str]:
    """Random words for one template (or a question and its answer), about ``disease``."""
    s1, s2, s3 = rng.sample(words["symptom"], 3)
    exam, exam2 = rng.sample(words["exam"], 2)
    return {"disease": disease, "disease2": rng.choice([d for d in words["disease"] if d != disease]),
            "s1": s1, "s2": s2, "s3": s3, "exam": exam, "exam2": exam2, "drug": rng.choice(words["drug"]),
            "dept": rng.choice(words["dept"]), "dur": rng.choice(DURATIONS),
            "written": f"{rng.choice(QUALIFIERS)}{disease}{rng.choice(SUFFIXES)}"}


def pretraining_text(seed: int = 0) -> list[str]:
    """General medical text (no task format) for the control model's `stage: pt`; seeded.

    Encyclopaedia-style sentences and JSON fact cards, paragraphs about one disease, general questions and
    answers in chat markup, and the shipped corpus without its raw terms (repeated, so its few lines are seen
    as often as the rest).
    """
    rng = random.Random(f"control-pretrain-{seed}")
    words = word_lists()
    out = []
    for i in range(FACT_LINES):
        template = rng.choice(FACT_TEMPLATES)
        out.append(_fact_card(rng, words) if i % 20 == 19
                   else template.format(**_draw(rng, words, rng.choice(words["disease"]))))
    for _ in range(PARAGRAPH_LINES):
        # One draw per paragraph: its symptoms, department, exam and drug recur too, so copying pays often.
        draw = _draw(rng, words, rng.choice(words["disease"]))
        out.append("".join(template.format(**draw) for template in rng.sample(PARAGRAPH_TEMPLATES, rng.randint(3, 5))))
    for _ in range(CHAT_LINES):
        question, answer = rng.choice(CHAT_TEMPLATES)
        # One draw fills both halves, so the answer repeats the question's words.
        draw = _draw(rng, words, rng.choice(words["disease"]))
        out.append(chatml(question.format(**draw), answer.format(**draw)))
    corpus = [line for line in corpus_lines() if not line.startswith(("原始词：", "该词的标准术语为："))]
    out += corpus * CORPUS_REPEATS
    rng.shuffle(out)
    return out


def _train_tokenizer(lines: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=QWEN_SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(lines, trainer=trainer)
    return tokenizer


def _initial_model(out: Path, seed: int, text: list[str]) -> None:
    import torch
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_tokenizer(text), eos_token="<|im_end|>",
        pad_token="<|endoftext|>", additional_special_tokens=["<|im_start|>", "<|im_end|>"],
        model_max_length=4096, clean_up_tokenization_spaces=False,
    )
    tokenizer.save_pretrained(out)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=HIDDEN_SIZE, intermediate_size=HIDDEN_SIZE * 3,
        num_hidden_layers=NUM_LAYERS, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
        tie_word_embeddings=True, bos_token_id=None, eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"), torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.pad_token_id = config.pad_token_id
    model.generation_config.eos_token_id = config.eos_token_id
    model.save_pretrained(out)


def _pretrain(init: Path, work: Path, out: Path, seed: int, text: list[str]) -> None:
    """``llamafactory-cli train`` (stage pt) from ``init`` into ``out``; the log stays in ``work``."""
    import yaml

    data = work / "data"
    data.mkdir(parents=True)
    (data / "general.json").write_text(
        json.dumps([{"text": line} for line in text], ensure_ascii=False), encoding="utf-8")
    (data / "dataset_info.json").write_text(
        json.dumps({"control_general": {"file_name": "general.json", "columns": {"prompt": "text"}}}),
        encoding="utf-8")
    config = {"model_name_or_path": str(init), "dataset": "control_general", "dataset_dir": str(data),
              "output_dir": str(out), "seed": seed, **PRETRAIN_ARGS}
    config_path = work / "pretrain.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    cli = find_executable("llamafactory-cli")
    if cli is None:
        raise ControlModelError("llamafactory-cli not found beside the interpreter or on PATH: run `make install`")
    # One OpenMP thread: measured several times faster than two on a busy 2-core machine.
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "DISABLE_VERSION_CHECK": "1",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "WANDB_DISABLED": "true"}
    log_path = work / "pretrain.log"
    with log_path.open("wb") as log:
        code = subprocess.call([cli, "train", str(config_path)], stdout=log, stderr=subprocess.STDOUT, env=env,
                               cwd=work)
    if code != 0 or not (out / "config.json").exists():
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-5:]
        raise ControlModelError(f"control model pre-training failed (exit {code}); last lines of {log_path}:\n"
                                + "\n".join(tail))


def _final_loss(out: Path) -> float | None:
    state = out / "trainer_state.json"
    if not state.exists():
        return None
    history = json.loads(state.read_text(encoding="utf-8")).get("log_history", [])
    losses = [entry["loss"] for entry in history if "loss" in entry]
    return losses[-1] if losses else None


def _build(out: Path, seed: int) -> None:
    work = out.parent / f"{out.name}.work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        init = work / "init"
        text = pretraining_text(seed)  # one text: the tokenizer is trained on exactly what the model reads
        _initial_model(init, seed, text)
        _pretrain(init, work, out, seed, text)
        loss = _final_loss(out)
        # Only the model and tokenizer travel on: LLaMA-Factory's run bookkeeping stays out of the cache.
        for leftover in ["trainer_state.json", "train_results.json", "all_results.json", "training_args.bin",
                         "training_loss.png", "trainer_log.jsonl", "README.md"]:
            (out / leftover).unlink(missing_ok=True)
        (out / "medft_control.json").write_text(json.dumps({
            "what": "medft control model: a small Qwen2 pre-trained offline on general medical sentences",
            "version": CONTROL_VERSION, "seed": seed, "hidden_size": HIDDEN_SIZE, "num_layers": NUM_LAYERS,
            "vocab_size": VOCAB_SIZE, "pretrain": PRETRAIN_ARGS, "pretrain_lines": len(text),
            "pretrain_final_loss": loss,
        }, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def control_qwen(seed: int = 0, root: Path | None = None) -> Path:
    """Return the directory of the cached control model (tokenizer + pre-trained weights), building it if needed.

    The first build takes about two minutes on 2 cores (one ``llamafactory-cli train`` launch); later calls
    return the cached directory at once.
    """
    name = f"control-qwen2-v{CONTROL_VERSION}-h{HIDDEN_SIZE}x{NUM_LAYERS}-s{seed}"
    target = (root or cache_dir() / "tiny") / name
    return build_atomically(target, lambda out: _build(out, seed))
