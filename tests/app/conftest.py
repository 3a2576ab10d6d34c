"""One `make demo` per test session, shared by every test that reads its outputs.

The demo trains the control model (the positive control) and is the suite's most expensive step, so it runs
once: the first xdist worker that needs it runs it under a file lock in the session's shared temp root, the
others wait and reuse it (pytest-xdist's documented pattern for session-wide data).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

DEMO_TIMEOUT_S = 1500


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """The directory of a finished demo run (``app.cli demo --dir``); fails with the demo's output tail.

    ``MEDFT_TEST_DEMO_DIR`` points the tests at a demo you already ran (its ``demo.log`` beside it), to iterate
    on these tests without retraining.
    """
    given = os.environ.get("MEDFT_TEST_DEMO_DIR")
    if given:
        return Path(given)
    root = tmp_path_factory.getbasetemp().parent
    demo, done, log = root / "demo", root / "demo.done", root / "demo.log"
    with FileLock(str(root / "demo.lock")):
        if not done.exists():
            with log.open("w", encoding="utf-8") as handle:
                code = subprocess.call([sys.executable, "-m", "app.cli", "demo", "--dir", str(demo)],
                                       stdout=handle, stderr=subprocess.STDOUT, timeout=DEMO_TIMEOUT_S)
            if code != 0:
                pytest.fail(f"the demo failed (exit {code}):\n{log.read_text(encoding='utf-8')[-4000:]}")
            done.write_text("ok\n", encoding="utf-8")
    return demo


@pytest.fixture(scope="session")
def demo_log(demo_dir) -> str:
    """What the demo printed."""
    return (demo_dir.parent / "demo.log").read_text(encoding="utf-8")
