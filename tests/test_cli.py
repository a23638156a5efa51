"""End-to-end runs of the ``twinnet`` command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest


def twinnet(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "twinnet.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


def test_run_hotspot_json_and_run_folder(tmp_path):
    out = tmp_path / "run"
    p = twinnet("run", "hotspot", "--json", "--out", str(out))
    assert p.returncode == 0, p.stderr
    k = json.loads(p.stdout)
    assert k["peak_prb_utilization"] >= 0.9
    assert k["mean_prb_utilization"] < 0.6
    for name in ("users.parquet", "cells.parquet", "kpis.json", "serving_cell.png", "sinr.png",
                 "prb_utilization.png", "report.md"):
        assert (out / name).stat().st_size > 0, name
    cells = pd.read_parquet(out / "cells.parquet")
    assert cells["prb_utilization"].max() == pytest.approx(k["peak_prb_utilization"])
    assert json.loads((out / "kpis.json").read_text()) == k
    assert (out / "serving_cell.png").read_bytes()[:4] == b"\x89PNG"


def test_run_day_sweep_writes_diurnal_plot(tmp_path):
    p = twinnet("run", "hotspot", "--day", "--out", str(tmp_path))
    assert p.returncode == 0, p.stderr
    day = pd.read_parquet(tmp_path / "day.parquet")
    assert len(day) == 24 and (tmp_path / "diurnal_load.png").exists()
    assert "run folder" in p.stdout


def test_calibrate3gpp_json(tmp_path):
    p = twinnet("calibrate3gpp", "--scenario", "umi", "--fc-ghz", "30", "--drops", "2",
                "--json", "--out", str(tmp_path))
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["scenario"] == "umi" and r["fc_ghz"] == 30.0 and r["n_ues"] == 2 * 570
    for m in ("coupling_loss_db", "wideband_sir_db", "geometry_sinr_db"):
        assert list(r[m]) == [f"p{q}" for q in range(5, 100, 5)]
        vals = list(r[m].values())
        assert vals == sorted(vals)
    assert (tmp_path / "calibration_cdf.png").exists()


def test_errors_are_clean(tmp_path):
    p = twinnet("run", "no-such-scenario")
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and "no-such-scenario" in p.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[[carriers]]\nbandwidth_mhz = 33\n")
    p = twinnet("run", str(bad))
    assert p.returncode == 2 and "carriers.0" in p.stderr and "33" in p.stderr
    p = twinnet("calibrate3gpp", "--scenario", "rma", "--json")
    assert p.returncode == 2 and "scenario" in p.stderr


def test_validate_and_list():
    p = twinnet("scenarios")
    assert p.returncode == 0 and "hotspot" in p.stdout
