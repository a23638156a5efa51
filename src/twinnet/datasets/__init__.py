"""The real data sets TwinNet reads, one loader module per data set.

The files live outside the project (their licences do not all allow redistribution):
``$TWINNET_DATA`` if set, else the first ``shared/data`` folder found beside the current
directory or the installed package, walking up (:func:`shared_data_dir`).

* :mod:`twinnet.datasets.milan` — Telecom Italia Big Data Challenge, Milan (10-minute internet
  activity of 25 squares, totals per square, the grid);
* :mod:`twinnet.datasets.huawei` — Huawei Cup 2019 measured RSRP with cell engineering data;
* :mod:`twinnet.datasets.mlmatt` — ML-MATT LTE cell KPIs every 15 minutes;
* :mod:`twinnet.datasets.sutd` — SUTD private 5G campus walk test with anomaly labels.

Every loader raises :class:`~twinnet.errors.DataNotFoundError` naming the file it looked for.
"""

from __future__ import annotations

import os
from pathlib import Path

from twinnet.errors import DataNotFoundError

__all__ = ["data_file", "shared_data_dir"]


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


def data_file(subdir: str, name: str, data_dir: str | Path | None = None,
              what: str = "data file") -> Path:
    """Path of ``name`` in ``data_dir`` (default: ``shared_data_dir(subdir)``); raises
    :class:`DataNotFoundError` naming the file when it is not there."""
    folder = Path(data_dir) if data_dir is not None else shared_data_dir(subdir)
    path = folder / name
    if not path.is_file():
        raise DataNotFoundError(f"{what}: no file {name} in {folder}")
    return path
