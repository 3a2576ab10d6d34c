"""Fetch the raw sources into ``raw/``: ModelScope datasets via its CLI, Yidu-N7K as a zip over HTTP, the
exams (CMB, CMExam, CMMLU) as files from their GitHub repositories.

Offline (or without the ``modelscope`` CLI) every path fails fast with a message that names the
manual alternative. Downloads land in a temporary directory first and are moved into place only after
their size and hash checks pass, so a failed download never leaves half a dataset in ``raw/``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from bridge.cmmlu import MEDICAL_SUBJECTS as CMMLU_MEDICAL
from bridge.common import BridgeError
from medft.paths import find_executable

DEFAULT_TIMEOUT = 15


@dataclass(frozen=True)
class Remote:
    """Where a source comes from and what must arrive."""

    kind: str  # "modelscope", "zip" or "files"
    location: str  # ModelScope dataset id, URL of the zip, or base URL of the files
    files: tuple[str, ...]  # files that must exist afterwards (relative to raw/<source>)
    include: tuple[str, ...] = ()  # ModelScope: only these files
    #: "files": (path under ``location``, destination under raw/<source>); a fetched .zip is unpacked (the
    #: ``files`` it holds are taken out flat) and removed.
    urls: tuple[tuple[str, str], ...] = ()
    #: file -> (size in bytes, sha256), checked when known. Filled only with values we verified ourselves.
    expected: dict[str, tuple[int | None, str | None]] = field(default_factory=dict)
    manual: str = ""


REMOTES: dict[str, Remote] = {
    "dialog": Remote("modelscope", "xiaofengalg/Chinese-medical-dialogue", ("data/train_0001_of_0001.json",),
                     include=("data/train_0001_of_0001.json",),
                     manual="https://modelscope.cn/datasets/xiaofengalg/Chinese-medical-dialogue (or the Toyhom CSVs "
                            "from https://github.com/Toyhom/Chinese-medical-dialogue-data) into raw/dialog/"),
    "norm": Remote("zip", "http://openkg.cn/dataset/yidu-n7k", ("train.xlsx", "val.xlsx"),
                   manual="the Yidu-N7K zip from http://openkg.cn/dataset/yidu-n7k, unpacked so that "
                          "raw/norm/train.xlsx and raw/norm/val.xlsx exist"),
    # The IMCS-V2 id below could not be checked from this offline machine (dialog and o1 are the ids the
    # tutorials use); if ModelScope answers "not found", pass the right one with `--from`.
    "mrg": Remote("modelscope", "CMedBenchmark/IMCS-V2-MRG", ("IMCS-V2_train.json", "IMCS-V2_dev.json"),
                  manual="IMCS-V2 from https://tianchi.aliyun.com/dataset/95414 (CBLUE), with IMCS-V2_train.json "
                         "and IMCS-V2_dev.json in raw/mrg/"),
    "o1": Remote("modelscope", "FreedomIntelligence/medical-o1-reasoning-SFT", ("medical_o1_sft_Chinese.json",),
                 include=("medical_o1_sft_Chinese.json", "medical_o1_sft.json"),
                 manual="https://modelscope.cn/datasets/FreedomIntelligence/medical-o1-reasoning-SFT "
                        "(medical_o1_sft_Chinese.json) into raw/o1/"),
    "cmb": Remote("files", "https://raw.githubusercontent.com/FreedomIntelligence/CMB/main",
                  ("CMB-train-merge.json", "CMB-val-merge.json", "CMB-test-choice-question-merge.json",
                   "CMB-test-choice-answer.json"),
                  urls=(("data/CMB.zip", "CMB.zip"),
                        ("data/CMB-test-choice-answer.json", "CMB-test-choice-answer.json")),
                  manual="data/CMB.zip and data/CMB-test-choice-answer.json from "
                         "https://github.com/FreedomIntelligence/CMB (or https://huggingface.co/datasets/"
                         "FreedomIntelligence/CMB), unzipped into raw/cmb/"),
    "cmexam": Remote("files", "https://raw.githubusercontent.com/williamliujl/CMExam/main",
                     ("train.csv", "val.csv", "test_with_annotations.csv"),
                     urls=tuple((f"data/{name}", name)
                                for name in ("train.csv", "val.csv", "test_with_annotations.csv")),
                     manual="data/train.csv, data/val.csv and data/test_with_annotations.csv from "
                            "https://github.com/williamliujl/CMExam into raw/cmexam/"),
    "cmmlu": Remote("files", "https://raw.githubusercontent.com/haonan-li/CMMLU/master",
                    tuple(f"{split}/{subject}.csv" for subject in CMMLU_MEDICAL for split in ("test", "dev")),
                    urls=tuple((f"data/{split}/{subject}.csv", f"{split}/{subject}.csv")
                               for subject in CMMLU_MEDICAL for split in ("test", "dev")),
                    manual="the data/ folder of https://github.com/haonan-li/CMMLU (test/ and dev/ CSVs; all 67 "
                           "subjects for --subjects all) into raw/cmmlu/"),
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify(root: Path, remote: Remote) -> None:
    """Check that every expected file arrived with the known size / sha256."""
    missing = [name for name in remote.files if not (root / name).is_file()]
    if missing:
        raise BridgeError(f"download incomplete: {missing} missing under {root}; get {remote.manual}")
    for name, (size, digest) in remote.expected.items():
        path = root / name
        if size is not None and path.stat().st_size != size:
            raise BridgeError(f"{name}: size {path.stat().st_size} bytes, expected {size}; the download is corrupt")
        if digest is not None and sha256_of(path) != digest:
            raise BridgeError(f"{name}: sha256 mismatch; the download is corrupt or the upstream file changed")


def fetch_url(url: str, dest: Path, timeout: float, manual: str) -> Path:
    """Download ``url`` to ``dest`` (any urllib scheme, file:// included) with a short connect timeout."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as handle:
            shutil.copyfileobj(response, handle, 1 << 20)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise BridgeError(f"cannot download {url} ({reason}); offline? Download manually: {manual}") from None
    return dest


def unpack_zip(archive: Path, target: Path, wanted: tuple[str, ...]) -> None:
    """Extract the ``wanted`` file names (found anywhere inside the zip) flat into ``target``."""
    if not zipfile.is_zipfile(archive):
        head = archive.read_bytes()[:200].decode("utf-8", "replace")
        hint = " (the server sent an HTML page)" if "<html" in head.lower() or "<!doctype" in head.lower() else ""
        raise BridgeError(f"{archive.name} is not a zip archive{hint}")
    with zipfile.ZipFile(archive) as zf:
        by_name = {Path(info.filename).name: info for info in zf.infolist() if not info.is_dir()}
        missing = [name for name in wanted if name not in by_name]
        if missing:
            raise BridgeError(f"{archive.name} lacks {missing}; it holds {sorted(by_name)[:20]}")
        for name in wanted:
            with zf.open(by_name[name]) as src, open(target / name, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def fetch_files(remote: Remote, staging: Path, timeout: float) -> None:
    """Fetch each of ``remote.urls`` below its base URL; unpack fetched zips (CMB ships its questions zipped)."""
    fetched = set()
    for path, dest in remote.urls:
        target = staging / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        fetch_url(f"{remote.location.rstrip('/')}/{path}", target, timeout, remote.manual)
        fetched.add(dest)
    for dest in sorted(d for d in fetched if d.endswith(".zip")):
        unpack_zip(staging / dest, staging, tuple(name for name in remote.files if name not in fetched))
        (staging / dest).unlink()


def _modelscope(remote: Remote, target: Path, timeout: float) -> None:
    exe = find_executable("modelscope")
    if exe is None:
        raise BridgeError("the `modelscope` CLI is not installed (pip install modelscope), "
                          f"or download manually: {remote.manual}")
    cmd = [exe, "download", "--dataset", remote.location, "--local_dir", str(target)]
    for pattern in remote.include:
        cmd += ["--include", pattern]
    try:
        # Metadata comes first: a short timeout on a silent network fails fast; big files are allowed longer
        # by the CLI itself, so only the first phase is bounded here via a generous multiple.
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * 40)
    except subprocess.TimeoutExpired:
        raise BridgeError(f"modelscope download of {remote.location} timed out; download manually: {remote.manual}") \
            from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise BridgeError(f"modelscope download {remote.location} failed: {' | '.join(tail)}; "
                          f"download manually: {remote.manual}")


def download(source: str, raw_dir: str | Path, location: str | None = None, timeout: float = DEFAULT_TIMEOUT,
             dry_run: bool = False) -> Path:
    """Fetch ``source`` into ``raw_dir/source``; returns that directory. Existing verified files are kept.

    ``location`` replaces the default URL (zip sources) or ModelScope dataset id (the others), e.g. a mirror.
    """
    if source not in REMOTES:
        raise BridgeError(f"unknown source {source!r}; known: {', '.join(REMOTES)}")
    remote = REMOTES[source]
    if location:
        remote = replace(remote, location=location, expected={})
    target = Path(raw_dir) / source
    if all((target / name).is_file() for name in remote.files):
        verify(target, remote)
        return target
    if dry_run:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{source}.", dir=target.parent))
    try:
        if remote.kind == "zip":
            archive = fetch_url(remote.location, staging / f"{source}.zip", timeout, remote.manual)
            unpack_zip(archive, staging, remote.files)
            archive.unlink()
        elif remote.kind == "files":
            fetch_files(remote, staging, timeout)
        else:
            _modelscope(remote, staging, timeout)
        verify(staging, remote)
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(p for p in staging.rglob("*") if p.is_file() and not p.name.startswith(".")):
            dest = target / path.relative_to(staging)
            dest.parent.mkdir(parents=True, exist_ok=True)
            path.replace(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
