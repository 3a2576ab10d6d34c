import json

import pytest

from tests.datasets import write_dataset_dir

REPORT = {"主诉": "腹泻三天。", "现病史": "患儿腹泻三天，稀水样便。", "辅助检查": "暂缺。",
          "既往史": "不详。", "诊断": "小儿腹泻", "建议": "口服补液盐。"}


@pytest.fixture
def heldout_dir(tmp_path):
    """A dataset_dir with small norm / mrg / dialog held-out sets registered."""
    data = tmp_path / "data"
    sets = {
        "norm": [{"instruction": f"原始词：高血压病{i}级\n该词的标准术语为：", "input": "", "output": "高血压"}
                 for i in range(5)],
        "mrg": [{"instruction": f"问诊对话历史：\n患者：宝宝拉肚子{i}天\n根据上述对话，给出诊疗报告\n答：", "input": "",
                 "output": json.dumps(REPORT, ensure_ascii=False, indent=2), "references": [REPORT, REPORT]}
                for i in range(3)],
        "dialog": [{"instruction": "主题：胃疼\n内容：饭后胃疼", "input": "", "output": "建议做胃镜检查。"}],
    }
    return write_dataset_dir(data, {f"med_{name}_test": (f"{name}_test.jsonl", records)
                                    for name, records in sets.items()})


@pytest.fixture(scope="session")
def exam_dir(tmp_path_factory):
    """A dataset_dir with the sample CMB, CMExam and CMMLU files converted by bridge (treat as read-only);
    ``exam_dir.parent / "raw"`` holds the raw sample files."""
    from bridge.pipeline import convert_source
    from bridge.samples import write_samples

    root = tmp_path_factory.mktemp("exams")
    write_samples(root / "raw", seed=0)
    for source in ("cmb", "cmexam", "cmmlu"):
        convert_source(source, root / "data", raw_dir=root / "raw")
    return root / "data"
