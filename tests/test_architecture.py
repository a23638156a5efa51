"""The layer order of ``src/twinnet`` holds, and a change that breaks it fails.

``lint-imports`` (import-linter, configured in ``pyproject.toml``) counts every import — those
inside functions too; only ``if TYPE_CHECKING:`` imports are exempt.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "twinnet"


def _lint_imports(pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = None if pythonpath is None else {**os.environ, "PYTHONPATH": str(pythonpath)}
    exe = shutil.which("lint-imports")
    cmd = [exe] if exe else [sys.executable, "-c",
                             "import sys; from importlinter.cli import lint_imports_command; "
                             "sys.exit(lint_imports_command())"]
    return subprocess.run([*cmd, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=300)


def _layers() -> list[str]:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in cfg["contracts"] if c["type"] == "layers"]
    return [name.strip() for entry in layers for name in entry.split("|")]


def test_the_layer_contracts_hold() -> None:
    p = _lint_imports()
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert "2 kept, 0 broken" in p.stdout


def test_an_upward_import_inside_a_function_breaks_the_build(tmp_path: Path) -> None:
    """The radio physics importing the twin — even lazily, inside a function — is reported
    with the offending module and line, and lint-imports exits non-zero."""
    copy = tmp_path / "twinnet"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    noise = copy / "radio" / "noise.py"
    noise.write_text(noise.read_text() + "\n\ndef _upward() -> None:\n"
                                         "    from twinnet.twin import DigitalTwin  # noqa: F401\n")
    p = _lint_imports(tmp_path)
    assert p.returncode != 0
    assert "twinnet.radio is not allowed to import twinnet.twin" in p.stdout
    assert "twinnet.radio.noise -> twinnet.twin" in p.stdout
    # a cycle between two parts is named too
    assert "No cycles are allowed in twinnet" in p.stdout


def test_a_type_checking_import_is_exempt(tmp_path: Path) -> None:
    copy = tmp_path / "twinnet"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    noise = copy / "radio" / "noise.py"
    text = noise.read_text().replace(
        "from twinnet.errors import InputError\n",
        "from typing import TYPE_CHECKING\n\nfrom twinnet.errors import InputError\n\n"
        "if TYPE_CHECKING:\n    from twinnet.twin import DigitalTwin  # noqa: F401\n", 1)
    assert text != noise.read_text()
    noise.write_text(text)
    p = _lint_imports(tmp_path)
    assert p.returncode == 0, p.stdout[-3000:]


def test_every_top_level_part_is_a_layer_and_is_in_the_readme_map() -> None:
    parts = sorted({p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
                   | {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()})
    assert sorted(_layers()) == parts
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Where things are", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_0-9]+)(?:\.py|/)` \|", section, flags=re.M)
    assert sorted(rows) == parts
    # the map lists the parts top-down in the order the contract enforces
    assert rows == [name for name in _layers()]


@pytest.mark.parametrize("module", ["twinnet.radio", "twinnet.datasets", "twinnet.scenario"])
def test_importing_a_low_layer_does_not_load_the_layers_above(module: str) -> None:
    code = (f"import sys, {module}; "
            "print(sorted(m for m in sys.modules if m.startswith('twinnet.')"
            " and m.split('.')[1] in ('twin', 'llm', 'loop', 'links', 'rrm', 'engines')))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"
