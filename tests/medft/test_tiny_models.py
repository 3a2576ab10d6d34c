import filecmp

from transformers import AutoConfig, AutoTokenizer

from medft.corpus import corpus_lines
from medft.tiny_models import tiny_bert, tiny_qwen


def _same_tree(a, b) -> bool:
    cmp = filecmp.dircmp(a, b)
    files = cmp.common_files
    _, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    return not (cmp.left_only or cmp.right_only or mismatch or errors)


def test_builds_are_byte_identical_for_a_seed(tmp_path):
    first = tiny_qwen(seed=3, root=tmp_path / "one")
    second = tiny_qwen(seed=3, root=tmp_path / "two")
    assert _same_tree(first, second)
    assert _same_tree(tiny_bert(seed=3, root=tmp_path / "one"), tiny_bert(seed=3, root=tmp_path / "two"))


def test_different_seed_gives_different_weights(tmp_path):
    a = tiny_qwen(seed=1, root=tmp_path)
    b = tiny_qwen(seed=2, root=tmp_path)
    assert (a / "model.safetensors").read_bytes() != (b / "model.safetensors").read_bytes()


def test_cached_model_is_reused(tmp_path):
    path = tiny_qwen(root=tmp_path)
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    assert tiny_qwen(root=tmp_path) == path
    assert (path / "model.safetensors").stat().st_mtime_ns == stamp


def test_qwen_tokenizer_fits_the_qwen_template(tiny_qwen_path):
    tok = AutoTokenizer.from_pretrained(tiny_qwen_path)
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>" and tok.bos_token is None
    for special in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
        assert len(tok(special, add_special_tokens=False)["input_ids"]) == 1
    config = AutoConfig.from_pretrained(tiny_qwen_path)
    assert config.model_type == "qwen2" and config.eos_token_id == tok.eos_token_id


def test_qwen_tokenizer_learned_medical_vocabulary(tiny_qwen_path):
    tok = AutoTokenizer.from_pretrained(tiny_qwen_path)
    text = "原始词：2型糖尿病伴血糖控制不佳\n该词的标准术语为："
    ids = tok(text, add_special_tokens=False)["input_ids"]
    # Byte fallback would cost ~3 tokens per Chinese character; merges learned from the corpus do better.
    assert len(ids) < len(text)
    assert tok.decode(ids) == text
    english = "fever with cough"  # unseen text still round-trips through byte-level BPE
    assert tok.decode(tok(english, add_special_tokens=False)["input_ids"]) == english


def test_bert_tokenizer_is_character_level_with_finite_length(tiny_bert_path):
    tok = AutoTokenizer.from_pretrained(tiny_bert_path)
    assert tok.tokenize("发热咳嗽") == ["发", "热", "咳", "嗽"]
    assert tok.model_max_length == 512
    assert "[UNK]" not in tok.tokenize("体温38.5℃")


def test_corpus_covers_the_prompt_templates():
    text = "\n".join(corpus_lines())
    for phrase in ("该词的标准术语为：", "根据上述对话，给出诊疗报告", "主题：", "### 答案："):
        assert phrase in text
