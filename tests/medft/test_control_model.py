"""The control model's builder: deterministic text, no task format in it, a tokenizer that keeps disease names
whole, and a clean failure."""

from __future__ import annotations

import json

import pytest

from bridge.samples import MODIFIERS, SUFFIXES
from medft import control_model
from medft.corpus import word_lists

TASK_MARKERS = ["原始词：", "该词的标准术语为：", "问诊对话历史", "根据上述对话", "诊断问题：", "### 答案",
                "主题：", "内容："]


def test_pretraining_text_is_deterministic_per_seed():
    first, again, other = (control_model.pretraining_text(seed) for seed in (0, 0, 1))
    assert first == again and first != other
    assert len(first) == control_model.PRETRAIN_LINES + control_model.CORPUS_REPEATS * len(
        [line for line in control_model.corpus_lines() if not line.startswith(("原始词：", "该词的标准术语为："))])


def test_pretraining_text_holds_no_task_prompt_and_no_raw_term_line():
    # Held-out records are task prompts; text without any task's markers cannot contain one. The shipped
    # corpus does hold task examples (its dialogue and o1 lines): they are the corpus's own, not sample data.
    generated = control_model.pretraining_text(0)[: control_model.PRETRAIN_LINES * 2]
    corpus = set(control_model.corpus_lines())
    for line in generated:
        if line in corpus:
            continue
        assert not any(marker in line for marker in TASK_MARKERS), line
    assert not any(line.startswith(("原始词：", "该词的标准术语为：")) for line in generated)


def test_pretraining_text_has_each_kind_of_line():
    text = control_model.pretraining_text(0)
    chats = [line for line in text if line.startswith("<|im_start|>system\n")]
    assert len(chats) == control_model.CHAT_LINES
    # A chat answer repeats the question's disease: the copy across the turn boundary that every task needs.
    diseases = word_lists()["disease"]
    for chat in chats[:50]:
        question, answer = chat.split("<|im_start|>user\n")[1].split("<|im_end|>\n<|im_start|>assistant\n")
        assert any(d in question and d in answer for d in diseases) or "伴" in question, chat
    # A paragraph keeps to one disease and names it in every sentence.
    paragraphs = [line for line in text if line.count("。") >= 3 and not line.startswith("<|im_start|>")
                  and line not in set(control_model.corpus_lines())]
    assert len(paragraphs) >= control_model.PARAGRAPH_LINES * 0.9
    for paragraph in paragraphs[:50]:
        named = [d for d in diseases if d in paragraph]
        topic = max(named, key=paragraph.count)
        assert paragraph.count(topic) >= paragraph.count("。") - 1, paragraph


@pytest.fixture(scope="module")
def control_dir():
    return control_model.control_qwen()


@pytest.mark.slow
def test_the_tokenizer_keeps_every_disease_name_whole_inside_a_raw_term(control_dir):
    """BPE trained on raw terms merges qualifier + disease into one token; then a held-out term with an unseen
    combination becomes an unseen token (DESIGN.md §7). Every sample combination must keep the disease's own
    tokens."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(control_dir)
    merged = []
    for disease in word_lists()["disease"]:
        own = tokenizer.encode(disease)
        for modifier in set(MODIFIERS):
            for suffix in set(SUFFIXES):
                ids = tokenizer.encode(f"{modifier}{disease}{suffix}")
                if not any(ids[i:i + len(own)] == own for i in range(len(ids))):
                    merged.append(f"{modifier}{disease}{suffix}")
    assert len(merged) <= 0.05 * len(word_lists()["disease"]) * len(set(MODIFIERS)) * len(set(SUFFIXES)), merged[:10]


@pytest.mark.slow
def test_the_built_model_is_a_qwen_chat_model_with_its_recipe_recorded(control_dir):
    from transformers import AutoTokenizer

    recipe = json.loads((control_dir / "medft_control.json").read_text(encoding="utf-8"))
    assert recipe["pretrain"]["stage"] == "pt" and recipe["version"] == control_model.CONTROL_VERSION
    assert 0 < recipe["pretrain_final_loss"] < 3.0  # it learned the text (random weights start near ln 3000 ≈ 8)
    tokenizer = AutoTokenizer.from_pretrained(control_dir)
    text = tokenizer.apply_chat_template([{"role": "user", "content": "你好"}], tokenize=False,
                                         add_generation_prompt=True)
    assert text.endswith("<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n")
    assert not (control_dir / "trainer_state.json").exists() and not (control_dir / "README.md").exists()


def test_a_missing_llamafactory_cli_is_one_clear_error_and_leaves_no_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(control_model, "find_executable", lambda name: None)
    with pytest.raises(control_model.ControlModelError, match="llamafactory-cli not found"):
        control_model.control_qwen(root=tmp_path)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


@pytest.mark.slow
def test_the_chat_lines_are_what_the_saved_chat_template_writes(control_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(control_dir)
    messages = [{"role": "user", "content": "问"}, {"role": "assistant", "content": "答"}]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False)
    assert rendered.startswith(control_model.chatml("问", "答"))
    assert rendered[len(control_model.chatml("问", "答")):].startswith(tokenizer.eos_token)


@pytest.mark.slow
def test_the_built_model_copies_a_disease_name_out_of_its_context(control_dir):
    """What pre-training is for (README "The control model"): given a recorded diagnosis with qualifiers, the
    model's next token is the disease it names. Without this ability the demo's norm task does not learn."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(control_dir)
    model = AutoModelForCausalLM.from_pretrained(control_dir).eval()
    diseases = word_lists()["disease"]
    right = 0
    for i, disease in enumerate(diseases):
        written = f"{MODIFIERS[i % len(MODIFIERS)]}{disease}{SUFFIXES[i % len(SUFFIXES)]}"
        ids = tokenizer.encode(f"病历记录：{written}。\n规范的疾病名称：")
        with torch.no_grad():
            next_id = int(model(torch.tensor([ids])).logits[0, -1].argmax())
        right += tokenizer.decode([next_id]) == disease
    assert right >= 0.8 * len(diseases), f"{right} of {len(diseases)}"
