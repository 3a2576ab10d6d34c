"""Fixtures for the bridge tests: the sample raw files (`bridge samples`) and a converted dataset_dir."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bridge.pipeline import convert_source
from bridge.samples import write_samples
from bridge.sources import SOURCES


@pytest.fixture(scope="session")
def samples_dir(tmp_path_factory) -> Path:
    """Raw sample files for all four sources, written once per session (treat as read-only)."""
    out = tmp_path_factory.mktemp("raw")
    write_samples(out, seed=0)
    return out


@pytest.fixture()
def raw(samples_dir, tmp_path) -> Path:
    """A private, writable copy of the sample raw directory."""
    copy = tmp_path / "raw"
    shutil.copytree(samples_dir, copy)
    return copy


@pytest.fixture(scope="session")
def converted_dir(samples_dir, tmp_path_factory) -> Path:
    """A dataset_dir with every sample source converted and registered (treat as read-only)."""
    out = tmp_path_factory.mktemp("dataset_info")
    for name in SOURCES:
        convert_source(name, out, raw_dir=samples_dir)
    return out
