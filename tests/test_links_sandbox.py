"""The LINKs Executor's sandbox: real child processes, real attacks, and a workflow that goes on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from twinnet.links.sandbox import SandboxResult, check_program, run_sandboxed


def search_sensors(type: str, area: str) -> list[dict]:
    if area == "Atlantis":
        raise ValueError(f"unknown area {area!r}")
    return [{"id": f"{type}-{i}", "type": type, "area": area} for i in range(3)]


def get_readings(sensor_id: str, hours: int = 24) -> list[float]:
    return [float(h % 5) for h in range(hours)]


API = {"search_sensors": search_sensors, "get_readings": get_readings}

GOOD = """
sensors = search_sensors("temperature", area="Duomo")
values = get_readings(sensors[0]["id"], hours=5)
print("found", len(sensors))
result = {"n": len(sensors), "mean": statistics.mean(values), "max": max(values)}
"""


def _children() -> set[int]:
    """Processes whose parent is this test process (zombies included: they are not reaped)."""
    me = os.getpid()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            found.add(int(entry.name))
    return found


@pytest.fixture(autouse=True)
def no_child_left():
    before = _children()
    yield
    assert _children() - before == set()


def _assert_good(r: SandboxResult) -> None:
    assert r.ok, r.error
    assert r.kind is None and r.error is None
    assert r.value == {"n": 3, "mean": 2.0, "max": 4.0}
    assert r.stdout == "found 3\n"
    assert r.calls == [
        {"name": "search_sensors", "args": {"type": "temperature", "area": "Duomo"}, "ok": True},
        {"name": "get_readings", "args": {"sensor_id": "temperature-0", "hours": 5}, "ok": True},
    ]


def test_a_correct_program_returns_its_value_prints_and_calls():
    _assert_good(run_sandboxed(GOOD, API))


def test_a_data_api_error_comes_back_as_one_line_with_the_program_line():
    r = run_sandboxed('x = 1\nsensors = search_sensors("noise", "Atlantis")\nresult = x', API)
    assert not r.ok and r.kind == "runtime"
    assert r.error == "ValueError: search_sensors(): unknown area 'Atlantis' (line 2)"
    assert r.calls == [{"name": "search_sensors", "args": {"type": "noise", "area": "Atlantis"},
                        "ok": False, "error": "ValueError: unknown area 'Atlantis'"}]
    # the program can catch it like a Python exception
    r = run_sandboxed('try:\n    search_sensors("noise", "Atlantis")\n'
                      'except ValueError as e:\n    result = "caught"', API)
    assert r.ok and r.value == "caught"


ATTACKS = [
    # (program, kind, words the error must contain)
    ("data = open('/etc/passwd').read()", "forbidden", "open() is not available (line 1)"),
    ("import socket\ns = socket.socket()", "forbidden", "import statements"),
    ("from os import system", "forbidden", "import statements"),
    ("x = ().__class__.__base__.__subclasses__()", "forbidden", "'__subclasses__'"),
    ("os = __import__('os')", "forbidden", "'__import__'"),
    ("def g():\n    yield 1\nf = g().gi_frame.f_back", "forbidden", "line 3"),
    ("x = [0] * 10**10", "memory", "memory limit 128 MB exceeded (line 1)"),
    ("x = []\nwhile True:\n    x.append(' ' * 10**6)", "memory", "(line 3)"),
    ("x = 1\nif x >\n    y = 2", "syntax", "SyntaxError line 2"),
    ("result = undefined_name + 1", "runtime", "NameError: name 'undefined_name'"),
]


def test_attacks_are_stopped_and_reported_while_the_workflow_goes_on():
    for code, kind, words in ATTACKS:
        r = run_sandboxed(code, API, timeout_s=2.0, memory_mb=128)
        assert not r.ok and r.value is None, code
        assert r.kind == kind, (code, r.error)
        assert words in (r.error or ""), (code, r.error)
        assert "\n" not in (r.error or "")
        assert _children() == set()
    _assert_good(run_sandboxed(GOOD, API))


def test_an_infinite_loop_is_killed_at_the_timeout():
    r = run_sandboxed("while True:\n    pass", API, timeout_s=1.0)
    assert not r.ok and r.kind == "timeout"
    assert r.error == "timeout after 1.0 s"
    assert 1.0 <= r.elapsed_s < 2.0
    assert _children() == set()
    _assert_good(run_sandboxed(GOOD, API))


BYPASS = ("cls = [c for c in ().__class__.__base__.__subclasses__()"
          " if c.__name__ == '_wrap_close'][0]\n"
          "g = cls.__init__.__globals__\n")  # the os module's globals, past layers 1 and 4


@pytest.mark.parametrize(("attack", "blocked"), [
    ("data = g['open']('/etc/passwd', 0)", "open('/etc/passwd')"),
    ("data = g['__builtins__']['open']('/etc/passwd').read()", "open('/etc/passwd')"),
    ("s = g['__builtins__']['__import__']('socket')", "import of 'socket'"),
    ("g['system']('touch {marker}')", "'os.system'"),
    ("pid = g['fork']()", "'os.fork'"),
    ("names = g['listdir']('/')", "'os.listdir'"),
    ("try:\n    g['system']('touch {marker}')\nexcept Exception:\n    pass\nresult = 1",
     "'os.system'"),
])
def test_the_audit_hook_holds_when_the_static_check_is_bypassed(attack, blocked, tmp_path):
    marker = tmp_path / "pwned"
    code = BYPASS + attack.format(marker=marker)
    r = run_sandboxed(code, API, timeout_s=3.0, _static_check=False)
    assert not r.ok and r.kind == "forbidden", r.error
    assert f"forbidden: {blocked} is blocked by the sandbox" in (r.error or "")
    assert not marker.exists()


def test_result_must_be_assigned_and_json():
    r = run_sandboxed("x = 1", API)
    assert not r.ok and r.kind == "output" and "`result`" in (r.error or "")
    r = run_sandboxed("result = float('nan')", API)
    assert not r.ok and r.kind == "output"
    r = run_sandboxed("class P:\n    pass\nresult = P()", API)
    assert not r.ok and r.kind == "output" and "not JSON" in (r.error or "")
    r = run_sandboxed("result = (1, {2}, datetime.date(2024, 5, 1))", API)
    assert r.ok and r.value == [1, [2], "2024-05-01"]


def test_printed_output_is_bounded():
    r = run_sandboxed("for i in range(10000):\n    print('0123456789')\nresult = 1", API,
                      max_output_bytes=1000)
    assert r.ok and r.value == 1
    assert r.stdout.startswith("0123456789\n")
    assert r.stdout.endswith("[output truncated at 1000 bytes]")
    assert len(r.stdout.encode()) < 1100


def test_static_check():
    assert check_program(GOOD) is None
    assert check_program("type = 'noise'\nresult = type") is None  # a name it binds itself
    assert check_program("class P:\n    def __init__(self):\n        self.v = 1") is None
    for code, words in [
        ("global x", "'global'"),
        ("def f():\n    x = 1\n    def g():\n        nonlocal x", "'nonlocal' statements"),
        ("f = eval", "eval() is not available"),
        ("x = getattr(1, 'real')", "getattr() is not available"),
        ("class P:\n    def __del__(self):\n        pass", "'__del__'"),
        ("match 1:\n    case int(__class__=c):\n        pass", "class pattern"),
        ("x = (1).__class__", "'__class__'"),
        ("b = __builtins__", "'__builtins__'"),
    ]:
        rejected = check_program(code)
        assert rejected is not None and rejected[0] == "forbidden", code
        assert words in rejected[1], (code, rejected)
    kind, error = check_program("x = (\n") or ("", "")
    assert kind == "syntax" and error.startswith("SyntaxError line 1")


def test_the_cpu_limit_is_a_backstop_to_the_wall_clock(monkeypatch):
    from twinnet.links import sandbox

    monkeypatch.setattr(sandbox, "_cpu_limit_s", lambda timeout_s: 1)
    r = run_sandboxed("while True:\n    pass", API, timeout_s=10.0)
    assert not r.ok and r.kind == "timeout"
    assert r.error == "timeout: CPU time limit of 1 s exceeded"
    assert r.elapsed_s < 9.0  # the CPU limit, not the 10 s wall clock, stopped it
