"""The LINKs Executor's sandbox: run a program written by the Coder (a language model) against
the Data API, and hand back its value, its prints and one clear line for every failure.

The program is untrusted. It answers by assigning a JSON value to ``result`` and may call the
Data API functions it is given; nothing else is in scope. Isolation comes in layers; the tests
show that the file, socket, process and import attacks are stopped with the first layer
switched off as well:

1. **Static check** (:func:`check_program`, in the parent, before any process starts). The
   program is parsed with :mod:`ast` and rejected (``kind="forbidden"``, construct and line)
   if it contains ``import``/``from … import``, ``global``/``nonlocal``, an attribute whose
   name starts with ``_`` (``().__class__.__subclasses__()``) or walks frames and code
   (``gi_frame``, ``f_back``, ``f_globals``, ``tb_frame``, ``co_code``, …), a dunder name or
   definition (``__import__``, ``__builtins__``, ``def __del__``; a class may define
   ``__init__``, ``__repr__``, comparisons and a few other plain special methods), a class
   pattern that reads a dunder attribute, or a use of ``open``, ``eval``, ``exec``,
   ``compile``, ``getattr``, ``setattr``, ``delattr``, ``globals``, ``locals``, ``vars``,
   ``dir``, ``input``, ``breakpoint``, ``help`` or ``memoryview`` (unless the program binds
   that name itself).
   A parse failure is ``kind="syntax"`` with the line.
2. **Separate process.** The program runs in a fresh interpreter (``python -I -S -B``: no
   environment variables, no site packages, no bytecode written), started in a new session
   with ``cwd=/``, a one-variable environment and only the three standard descriptors (pipes to
   the parent). The parent kills the whole process group with ``SIGKILL`` when the wall-clock
   deadline passes (``timeout_s`` after the child reports ready; start-up has its own
   :data:`STARTUP_TIMEOUT_S`) and always reaps the child, whatever happened.
3. **Kernel limits** set by the child on itself before the program is compiled:
   ``RLIMIT_AS`` = ``memory_mb`` (a ``MemoryError`` is reported as ``kind="memory"``),
   ``RLIMIT_CPU`` = ``ceil(timeout_s) + 1`` s as a backstop to the wall clock (``SIGXCPU``,
   reported as ``kind="timeout"``; ``SIGKILL`` one second later),
   ``RLIMIT_FSIZE`` = 0 (no file can be written or grown), ``RLIMIT_NOFILE`` = the descriptors
   already open (no new file, socket or pipe can be created at all), ``RLIMIT_NPROC`` = 0 (no
   fork for an unprivileged user) and ``RLIMIT_CORE`` = 0.
4. **Restricted globals.** The program's globals are the Data API proxies, a whitelist of
   builtins (:data:`SAFE_BUILTINS`: no ``open``, ``eval``, ``exec``, ``compile``,
   ``getattr``, ``setattr``, ``globals``, ``vars``, ``input``, ``breakpoint``, ``type``,
   ``object``; ``__build_class__`` for ``class`` statements; an ``__import__`` that only hands
   out ``_strptime`` and ``time``, which ``datetime`` imports lazily from C, already imported)
   and ``math``, ``statistics`` and ``datetime`` as namespaces holding their public functions,
   classes and constants only — never a module, so that ``statistics.sys`` does not exist.
5. **Audit hook** (:func:`sys.addaudithook`, installed by the child after everything it needs
   is imported and every descriptor it needs is open, just before the program starts). While
   the program runs, *every* audit event is refused except the single ``exec`` that starts
   it: ``open`` (any path), ``import`` (any module not already imported), ``socket.*``,
   ``subprocess.Popen``, ``os.system``, ``os.exec*``, ``os.spawn*``, ``os.posix_spawn``,
   ``os.fork``, ``os.kill``, ``shutil.*``, ``ctypes.*``, ``compile``, ``exec``, ``code.__new__``,
   ``sys._getframe``, restricted attribute reads (``object.__getattr__``: ``tb_frame``,
   ``gi_frame``, ``__code__``, …) and any event a future Python adds. A refused event raises
   in the program and is remembered, so a program that catches the exception is still
   reported as ``kind="forbidden"``. After the program ends only restricted attribute reads
   are allowed (to find the program's line in the traceback); the child then exits with
   :func:`os._exit`.
6. **The Data API runs in the parent.** The child holds proxies only: a call sends
   ``{"name", "args", "kwargs"}`` as one JSON line over its stdout, the parent runs the real
   (trusted) function and sends back the JSON value or the exception's type and message, which
   the proxy raises in the program (as the same built-in exception type where there is one,
   else :class:`DataAPIError`). The child therefore needs no database, no file and no network,
   and untrusted code never runs in the parent. Arguments and return values must be JSON
   (NumPy values, pandas frames and series, dates and sets are converted on the way back).

Timing: Data API calls run in the parent and count towards the wall-clock timeout; they are
trusted code and are expected to return. The parent never blocks for more than
``STARTUP_TIMEOUT_S + timeout_s`` plus a call in progress plus a fraction of a second.

>>> r = run_sandboxed("result = sum(range(4))", {})
>>> r.ok, r.value, r.kind
(True, 6, None)
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import json
import math
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "SAFE_BUILTINS",
    "SAFE_MODULES",
    "STARTUP_TIMEOUT_S",
    "DataAPIError",
    "SandboxResult",
    "check_program",
    "run_sandboxed",
]

#: builtins the program can use (besides the Data API functions)
SAFE_BUILTINS: tuple[str, ...] = (
    "abs", "all", "any", "bool", "chr", "dict", "divmod", "enumerate", "filter", "float",
    "frozenset", "int", "isinstance", "iter", "len", "list", "map", "max", "min", "next", "ord",
    "pow", "print", "range", "repr", "reversed", "round", "set", "slice", "sorted", "str", "sum",
    "tuple", "zip",
    # exceptions, so that the program can raise and catch them
    "ArithmeticError", "AssertionError", "Exception", "IndexError", "KeyError", "LookupError",
    "NameError", "NotImplementedError", "RuntimeError", "StopIteration", "TypeError",
    "ValueError", "ZeroDivisionError",
)
#: modules the program sees as namespaces of their public functions, classes and constants
SAFE_MODULES: tuple[str, ...] = ("math", "statistics", "datetime")
#: seconds the child may take to start before the program's own clock begins
STARTUP_TIMEOUT_S = 10.0

# names a program may not call unless it binds them itself
_FORBIDDEN_CALLS = frozenset({
    "open", "eval", "exec", "compile", "getattr", "setattr", "delattr", "globals", "locals",
    "vars", "dir", "input", "breakpoint", "help", "memoryview",
})
# attributes that walk frames, code objects and tracebacks (the names without an underscore)
_FORBIDDEN_ATTRS = frozenset({
    "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "cr_origin",
    "ag_frame", "ag_code", "ag_await", "f_back", "f_globals", "f_locals", "f_builtins", "f_code",
    "f_trace", "f_lasti", "tb_frame", "tb_next", "co_code", "co_consts", "co_names",
    "func_globals", "func_code", "mro",
})
# modules that library code running for the program imports lazily (already imported)
_INTERNAL_IMPORTS = frozenset({"_strptime", "time"})
# special methods a program's classes may define (other dunder names are refused)
_ALLOWED_DUNDER_DEFS = frozenset({
    "__init__", "__repr__", "__str__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__",
    "__ge__", "__hash__", "__len__", "__iter__", "__next__", "__contains__", "__getitem__",
    "__bool__", "__add__", "__sub__", "__mul__", "__truediv__",
})
_PROGRAM_FILENAME = "<program>"
_MAX_MESSAGE_BYTES = 8_000_000      # one JSON line either way (result, call arguments, replies)
_MAX_CALLS = 10_000                 # Data API calls per run
_MAX_ERROR_CHARS = 500
_KILL_GRACE_S = 2.0
_CHILD_FLAG = "--twinnet-sandbox-child"


class DataAPIError(Exception):
    """A Data API function failed with an exception that is not a built-in type."""


@dataclass
class SandboxResult:
    """What a sandboxed program did.

    ``kind`` is ``None`` on success, else ``"syntax"``, ``"forbidden"``, ``"runtime"``,
    ``"timeout"``, ``"memory"`` or ``"output"`` (no ``result``, or one that is not JSON or is
    too large); ``error`` is then one line for the Coder to repair from.
    """

    ok: bool
    value: Any
    stdout: str
    error: str | None
    kind: str | None
    elapsed_s: float
    calls: list[dict[str, Any]] = field(default_factory=list)


# ------------------------------------------------------------------------------------------
# layer 1: the static check


def check_program(code: str) -> tuple[str, str] | None:
    """``None`` if ``code`` parses and uses no forbidden construct, else ``(kind, error)``."""
    try:
        tree = ast.parse(code, filename=_PROGRAM_FILENAME, mode="exec")
    except SyntaxError as exc:
        return "syntax", f"SyntaxError line {exc.lineno}: {exc.msg}"
    except ValueError as exc:  # e.g. a null byte in the source
        return "syntax", f"SyntaxError: {exc}"
    bound = _bound_names(tree)
    for node in ast.walk(tree):
        problem = _forbidden(node, bound)
        if problem is not None:
            return "forbidden", f"forbidden: {problem} (line {getattr(node, 'lineno', '?')})"
    return None


def _bound_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


def _forbidden(node: ast.AST, bound: set[str]) -> str | None:
    if isinstance(node, ast.Import | ast.ImportFrom):
        return "import statements are not available; use the Data API functions"
    if isinstance(node, ast.Global | ast.Nonlocal):
        return f"'{type(node).__name__.lower()}' statements are not available"
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            return f"attribute '{node.attr}': names starting with '_' are not available"
        if node.attr in _FORBIDDEN_ATTRS:
            return f"attribute '{node.attr}' is not available"
    if isinstance(node, ast.MatchClass):
        for attr in node.kwd_attrs:
            if attr.startswith("_") or attr in _FORBIDDEN_ATTRS:
                return f"attribute '{attr}' in a class pattern is not available"
    if isinstance(node, ast.Name):
        if node.id.startswith("__"):
            return f"name '{node.id}' is not available"
        if node.id in _FORBIDDEN_CALLS and node.id not in bound:
            return f"{node.id}() is not available"
    definition = None
    if isinstance(node, ast.FunctionDef) and node.name in _ALLOWED_DUNDER_DEFS:
        definition = None
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        definition = node.name
    elif isinstance(node, ast.arg | ast.keyword):
        definition = node.arg
    elif isinstance(node, ast.ExceptHandler):
        definition = node.name
    if definition is not None and definition.startswith("__"):
        return f"name '{definition}' is not available"
    return None


# ------------------------------------------------------------------------------------------
# the parent


def run_sandboxed(code: str, functions: dict[str, Callable[..., Any]], *, timeout_s: float = 5.0,
                  memory_mb: int = 256, max_output_bytes: int = 10_000,
                  _static_check: bool = True) -> SandboxResult:
    """Run ``code`` in a fresh, limited process with only ``functions`` (the Data API) in scope.

    The program answers by assigning a JSON value to ``result``. Nothing raises for a bad
    program: every failure comes back as a :class:`SandboxResult` with ``ok=False``, a
    ``kind`` and a one-line ``error``. ``_static_check=False`` skips layer 1 and exists only so
    that the tests can show that the later layers hold on their own.
    """
    start = time.monotonic()
    if not timeout_s > 0:
        raise ValueError(f"timeout_s = {timeout_s!r}: expected a positive number of seconds")
    if memory_mb < 32:
        raise ValueError(f"memory_mb = {memory_mb!r}: expected at least 32")
    if max_output_bytes < 0:
        raise ValueError(f"max_output_bytes = {max_output_bytes!r}: expected >= 0")
    for name in functions:
        if not name.isidentifier() or name.startswith("_"):
            raise ValueError(f"functions: {name!r}: expected an identifier without leading '_'")
    if _static_check:
        rejected = check_program(code)
        if rejected is not None:
            kind, error = rejected
            return SandboxResult(False, None, "", error, kind, time.monotonic() - start, [])
    run = _ParentRun(code, functions, timeout_s, memory_mb, max_output_bytes, start)
    return run.run()


class _ParentRun:
    def __init__(self, code: str, functions: dict[str, Callable[..., Any]], timeout_s: float,
                 memory_mb: int, max_output_bytes: int, start: float) -> None:
        self.code = code
        self.functions = functions
        self.timeout_s = float(timeout_s)
        self.memory_mb = memory_mb
        self.max_output_bytes = max_output_bytes
        self.start = start
        self.calls: list[dict[str, Any]] = []
        self.n_calls = 0
        self.stderr = b""

    def _result(self, ok: bool, value: Any, stdout: str, error: str | None,
                kind: str | None) -> SandboxResult:
        return SandboxResult(ok, value, stdout, error, kind, time.monotonic() - self.start,
                             self.calls)

    def run(self) -> SandboxResult:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", os.path.abspath(__file__), _CHILD_FLAG],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd="/", env={"LC_ALL": "C.UTF-8"}, close_fds=True, start_new_session=True)
        try:
            return self._talk(proc)
        finally:
            _kill_and_reap(proc)

    def _talk(self, proc: subprocess.Popen[bytes]) -> SandboxResult:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        in_fd, out_fd, err_fd = proc.stdin.fileno(), proc.stdout.fileno(), proc.stderr.fileno()
        for fd in (in_fd, out_fd, err_fd):
            os.set_blocking(fd, False)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        started = False
        job = {"code": self.code, "functions": sorted(self.functions),
               "memory_mb": self.memory_mb, "cpu_s": _cpu_limit_s(self.timeout_s),
               "max_output_bytes": self.max_output_bytes}
        if not _send(in_fd, job, deadline):
            return self._died(proc, started)
        buffer = b""
        with selectors.DefaultSelector() as sel:
            sel.register(out_fd, selectors.EVENT_READ)
            sel.register(err_fd, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return self._timed_out(started)
                for key, _ in sel.select(remaining):
                    chunk = _read(key.fd)
                    if chunk is None:
                        continue
                    if key.fd == err_fd:
                        if chunk:
                            self.stderr = (self.stderr + chunk)[-4000:]
                        else:
                            sel.unregister(err_fd)
                        continue
                    if not chunk:  # the child closed its stdout: it died or exited
                        return self._died(proc, started)
                    buffer += chunk
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        try:
                            message = json.loads(line)
                        except ValueError:
                            return self._result(False, None, "", "the sandbox process sent "
                                                "a malformed message", "runtime")
                        op = message.get("op")
                        if op == "ready":
                            started = True
                            deadline = time.monotonic() + self.timeout_s
                        elif op == "call":
                            if not _send(in_fd, self._call(message), deadline):
                                return self._timed_out(started) \
                                    if time.monotonic() >= deadline else self._died(proc, started)
                        elif op == "done":
                            return self._result(bool(message["ok"]), message.get("value"),
                                                message.get("stdout", ""), message.get("error"),
                                                message.get("kind"))
                    if len(buffer) > _MAX_MESSAGE_BYTES:
                        return self._result(False, None, "", "the program's messages exceeded "
                                            f"{_MAX_MESSAGE_BYTES} bytes", "output")

    def _call(self, message: dict[str, Any]) -> dict[str, Any]:
        """Run one Data API call for the child; the reply it gets back."""
        name = str(message.get("name"))
        args = list(message.get("args") or [])
        kwargs = dict(message.get("kwargs") or {})
        fn = self.functions.get(name)
        self.n_calls += 1
        if fn is None:
            return {"ok": False, "type": "NameError", "error": "not a Data API function"}
        if self.n_calls > _MAX_CALLS:
            return {"ok": False, "type": "RuntimeError",
                    "error": f"more than {_MAX_CALLS} Data API calls in one run"}
        record: dict[str, Any] = {"name": name, "args": _bound_args(fn, args, kwargs), "ok": True}
        self.calls.append(record)
        try:
            value = fn(*args, **kwargs)
            payload = json.dumps({"ok": True, "value": value}, default=_api_default)
        except Exception as exc:
            record["ok"] = False
            record["error"] = _one_line(f"{type(exc).__name__}: {exc}")
            return {"ok": False, "type": type(exc).__name__, "error": _one_line(str(exc))}
        if len(payload) > _MAX_MESSAGE_BYTES:
            record["ok"] = False
            record["error"] = f"reply of {len(payload)} bytes exceeds {_MAX_MESSAGE_BYTES}"
            return {"ok": False, "type": "RuntimeError", "error": record["error"]}
        return {"raw": payload}

    def _timed_out(self, started: bool) -> SandboxResult:
        if not started:
            return self._result(False, None, "", "the sandbox did not start within "
                                f"{STARTUP_TIMEOUT_S} s", "runtime")
        return self._result(False, None, "", f"timeout after {self.timeout_s!r} s", "timeout")

    def _died(self, proc: subprocess.Popen[bytes], started: bool) -> SandboxResult:
        """The child went away without a report: tell why from its exit status and stderr."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=_KILL_GRACE_S)
        with contextlib.suppress(OSError):
            assert proc.stderr is not None
            self.stderr = (self.stderr + (_read(proc.stderr.fileno()) or b""))[-4000:]
        code = proc.returncode
        text = self.stderr.decode("utf-8", "replace")
        if code is not None and code < 0 and -code == signal.SIGXCPU:
            return self._result(False, None, "", f"timeout: CPU time limit of "
                                f"{_cpu_limit_s(self.timeout_s)} s exceeded", "timeout")
        if "MemoryError" in text or "Cannot allocate memory" in text or "out of memory" in text:
            return self._result(False, None, "", f"memory limit {self.memory_mb} MB exceeded",
                                "memory")
        how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        tail = _one_line(text.strip().splitlines()[-1]) if text.strip() else ""
        where = "while running the program" if started else "while starting"
        return self._result(False, None, "", f"the sandbox process died {where} ({how})"
                            + (f": {tail}" if tail else ""), "runtime")


def _cpu_limit_s(timeout_s: float) -> int:
    """The child's CPU-time limit: a backstop a little beyond the wall-clock timeout."""
    return math.ceil(timeout_s) + 1


def _kill_and_reap(proc: subprocess.Popen[bytes]) -> None:
    """Kill the child's process group (the child is its leader) and wait for the child."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.wait(timeout=_KILL_GRACE_S)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
        proc.kill()
        proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def _read(fd: int) -> bytes | None:
    """Up to 64 kB from ``fd``: ``b""`` at end of file, ``None`` if nothing is there yet."""
    try:
        return os.read(fd, 1 << 16)
    except BlockingIOError:  # pragma: no cover - a spurious wake-up
        return None
    except OSError:
        return b""


def _send(fd: int, message: dict[str, Any], deadline: float) -> bool:
    """Write one JSON line to the child before ``deadline``; False if it cannot be delivered."""
    raw = message.get("raw")
    data = (raw if isinstance(raw, str) else json.dumps(message)).encode() + b"\n"
    view = memoryview(data)
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_WRITE)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sel.select(remaining):
                return False
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:  # pragma: no cover
                continue
            except OSError:  # the child is gone
                return False
    return True


def _bound_args(fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
    """The call's arguments by parameter name where the signature allows, for the record."""
    try:
        return dict(inspect.signature(fn).bind(*args, **kwargs).arguments)
    except (TypeError, ValueError):
        return {"args": args, **kwargs} if kwargs else args


def _api_default(obj: Any) -> Any:
    """JSON for what Data API functions commonly return: NumPy, pandas, dates, sets."""
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict) and hasattr(obj, "columns"):  # a pandas DataFrame
        return to_dict(orient="records")
    if callable(to_dict) and hasattr(obj, "index"):  # a pandas Series
        return to_dict()
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):  # NumPy arrays and scalars
        return tolist()
    isoformat = getattr(obj, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=repr)
    raise TypeError(f"a Data API function returned a {type(obj).__name__}, which is not JSON")


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_ERROR_CHARS else text[:_MAX_ERROR_CHARS - 1] + "…"


# ------------------------------------------------------------------------------------------
# the child (this file run as a script by a fresh interpreter; only the standard library)


class _Forbidden(Exception):
    """Raised by the audit hook in the child."""


class _BoundedText:
    """``sys.stdout`` of the child: keeps the first ``limit`` bytes of what is printed."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.parts: list[str] = []
        self.truncated = False

    def write(self, text: str) -> int:
        if self.truncated:
            return len(text)
        data = str(text).encode("utf-8", "replace")
        room = self.limit - self.size
        if len(data) > room:
            data = data[:room]
            self.truncated = True
        self.parts.append(data.decode("utf-8", "ignore"))
        self.size += len(data)
        return len(text)

    def flush(self) -> None:
        pass

    def getvalue(self) -> str:
        text = "".join(self.parts)
        if self.truncated:
            text += f"\n…[output truncated at {self.limit} bytes]"
        return text


def _lower_limit(which: int, value: int, slack: int = 0) -> None:
    """Set the soft limit to ``value`` and the hard one to ``value + slack`` (never raising)."""
    import resource

    _, hard = resource.getrlimit(which)
    new_hard = value + slack
    if hard != resource.RLIM_INFINITY:
        new_hard = min(new_hard, hard)
        value = min(value, new_hard)
    resource.setrlimit(which, (value, new_hard))


def _namespace(module: Any) -> Any:
    import types

    public = {name: value for name, value in vars(module).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)}
    return types.SimpleNamespace(**public)


def _child_json_default(obj: Any) -> Any:
    import datetime

    if isinstance(obj, set | frozenset):
        return sorted(obj, key=repr)
    if isinstance(obj, datetime.date | datetime.time):
        return obj.isoformat()
    raise TypeError(f"{type(obj).__name__} is not JSON")


def _child_main() -> None:
    import _strptime  # noqa: F401 - datetime.strptime imports it lazily; import it now
    import builtins
    import datetime
    import resource
    import statistics

    rpc_in = os.fdopen(0, "rb")
    rpc_out = os.fdopen(1, "wb")

    def send(message: dict[str, Any]) -> None:
        try:
            rpc_out.write(json.dumps(message).encode() + b"\n")
            rpc_out.flush()
        except OSError:
            os._exit(1)

    job = json.loads(rpc_in.readline())
    max_output = int(job["max_output_bytes"])
    memory_mb = int(job["memory_mb"])
    out = _BoundedText(max_output)
    sys.stdout = out  # print() writes here

    exc_types: dict[str, type[BaseException]] = {
        name: getattr(builtins, name) for name in SAFE_BUILTINS
        if isinstance(getattr(builtins, name), type)
        and issubclass(getattr(builtins, name), BaseException)}

    def proxy_for(name: str) -> Callable[..., Any]:
        def proxy(*args: Any, **kwargs: Any) -> Any:
            try:
                line = json.dumps({"op": "call", "name": name, "args": list(args),
                                   "kwargs": kwargs}, default=_child_json_default)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"{name}(): arguments must be JSON values ({exc})") from None
            if len(line) > _MAX_MESSAGE_BYTES:
                raise ValueError(f"{name}(): arguments exceed {_MAX_MESSAGE_BYTES} bytes")
            try:
                rpc_out.write(line.encode() + b"\n")
                rpc_out.flush()
                reply = json.loads(rpc_in.readline() or b"null")
            except OSError:
                os._exit(1)
            if reply is None:  # the parent went away
                os._exit(1)
            if reply["ok"]:
                return reply["value"]
            error_type = exc_types.get(reply["type"], DataAPIError)
            raise error_type(f"{name}(): {reply['error']}")

        proxy.__name__ = proxy.__qualname__ = name
        return proxy

    safe_builtins: dict[str, Any] = {name: getattr(builtins, name) for name in SAFE_BUILTINS}
    safe_builtins["__build_class__"] = builtins.__build_class__  # class statements

    def internal_import(name: str, *args: Any, **kwargs: Any) -> Any:
        # C code imports through the builtins of the running frame: datetime.strptime()
        # imports _strptime, strftime() imports time. Only modules already imported are
        # given, and only these; a program cannot name this function (layer 1).
        if name in _INTERNAL_IMPORTS and name in sys.modules:
            return sys.modules[name]
        raise ImportError(f"import of {name!r} is not available")

    safe_builtins["__import__"] = internal_import
    program_globals: dict[str, Any] = {
        "__builtins__": safe_builtins, "__name__": "__program__",
        "math": _namespace(math), "statistics": _namespace(statistics),
        "datetime": _namespace(datetime),
    }
    program_globals.update({name: proxy_for(name) for name in job["functions"]})

    def finish(ok: bool, value: Any, error: str | None, kind: str | None) -> None:
        send({"op": "done", "ok": ok, "value": value, "stdout": out.getvalue(),
              "error": error, "kind": kind})
        os._exit(0)

    # kernel limits (layer 3)
    _lower_limit(resource.RLIMIT_AS, memory_mb * 2**20)
    _lower_limit(resource.RLIMIT_CPU, int(job["cpu_s"]), slack=1)  # SIGXCPU, then SIGKILL
    _lower_limit(resource.RLIMIT_CORE, 0)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, not kills
    _lower_limit(resource.RLIMIT_FSIZE, 0)
    with contextlib.suppress(OSError):
        _lower_limit(resource.RLIMIT_NPROC, 0)
    with contextlib.suppress(OSError):
        listed = [int(fd) for fd in os.listdir("/proc/self/fd")]
        open_fds = [fd for fd in listed if _is_open(fd)]
        _lower_limit(resource.RLIMIT_NOFILE, max(open_fds) + 1)

    try:
        program = compile(job["code"], _PROGRAM_FILENAME, "exec", dont_inherit=True)
    except SyntaxError as exc:
        finish(False, None, f"SyntaxError line {exc.lineno}: {exc.msg}", "syntax")
    except (ValueError, MemoryError) as exc:
        finish(False, None, f"SyntaxError: {exc}", "syntax")

    # the audit hook (layer 5)
    state: dict[str, Any] = {"phase": "run", "exec_left": 1, "violation": None}

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if state["phase"] == "run":
            if event == "exec" and state["exec_left"] > 0:
                state["exec_left"] -= 1
                return
        elif event == "object.__getattr__":  # reading the traceback after the program
            return
        what = _describe_event(event, args)
        if state["violation"] is None:
            state["violation"] = what
        raise _Forbidden(f"{what} is blocked by the sandbox")

    sys.addaudithook(hook)
    send({"op": "ready"})
    failure: BaseException | None = None
    try:
        exec(program, program_globals)
    except BaseException as exc:
        failure = exc
    state["phase"] = "report"

    line = _program_line(failure) if failure is not None else None
    at = f" (line {line})" if line is not None else ""
    if state["violation"] is not None:
        finish(False, None, f"forbidden: {state['violation']} is blocked by the sandbox{at}",
               "forbidden")
    if isinstance(failure, MemoryError):
        program_globals.clear()
        finish(False, None, f"memory limit {memory_mb} MB exceeded{at}", "memory")
    if failure is not None:
        name = type(failure).__name__
        finish(False, None, _one_line(f"{name}: {failure}{at}"), "runtime")
    if "result" not in program_globals:
        finish(False, None, "the program did not assign its answer to `result`", "output")
    try:
        text = json.dumps(program_globals["result"], allow_nan=False,
                          default=_child_json_default)
    except (TypeError, ValueError, RecursionError, _Forbidden) as exc:
        finish(False, None, _one_line(f"`result` is not JSON: {exc}"), "output")
    except MemoryError:
        finish(False, None, f"memory limit {memory_mb} MB exceeded converting `result`",
               "memory")
    if len(text) > _MAX_MESSAGE_BYTES:
        finish(False, None, f"`result` is {len(text)} bytes of JSON, more than "
               f"{_MAX_MESSAGE_BYTES}", "output")
    program_globals.clear()
    finish(True, json.loads(text), None, None)


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _describe_event(event: str, args: tuple[Any, ...]) -> str:
    if event == "open" and args and isinstance(args[0], str | bytes | int):
        return f"open({args[0]!r})"
    if event == "import" and args and isinstance(args[0], str):
        return f"import of {args[0]!r}"
    if event == "object.__getattr__" and len(args) > 1 and isinstance(args[1], str):
        return f"reading attribute {args[1]!r}"
    return f"'{event}'"


def _program_line(exc: BaseException) -> int | None:
    """The innermost line of the program in the exception's traceback."""
    if isinstance(exc, SyntaxError) and exc.filename == _PROGRAM_FILENAME:
        return exc.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _PROGRAM_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


if __name__ == "__main__" and sys.argv[1:] == [_CHILD_FLAG]:
    _child_main()
