"""Locating the real data sets TwinNet reads (``../shared/data`` beside a checkout)."""

from __future__ import annotations

import os
from pathlib import Path

from twinnet.errors import DataNotFoundError

__all__ = ["shared_data_dir"]


def shared_data_dir(subdir: str = "") -> Path:
    """Folder of the shared data sets: ``$TWINNET_DATA`` if set, else the first ``shared/data``
    found beside the current directory or the installed package (walking up)."""
    candidates: list[Path] = []
    env = os.environ.get("TWINNET_DATA")
    if env:
        candidates.append(Path(env))
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for parent in [start, *start.parents]:
            candidates.append(parent / "shared" / "data")
            candidates.append(parent.parent / "shared" / "data")
    for c in candidates:
        target = c / subdir if subdir else c
        if target.exists():
            return target
    raise DataNotFoundError(
        f"data folder {subdir or 'shared/data'!r} not found: set TWINNET_DATA to the folder that "
        "holds milan/, radio/, kpi/ (normally ../shared/data beside the checkout)"
    )
