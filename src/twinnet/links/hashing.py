"""Deterministic hashed random streams of the LINKs city: the same key and index always give the
same number, whatever else is drawn, so a reading depends only on (sensor id, time, seed).

A stream is named by an integer :func:`key` (BLAKE2b of its parts); :func:`uniform` hashes
``key + index`` with the SplitMix64 finaliser (S. Vigna, "An experimental exploration of
Marsaglia's xorshift generators, scrambled", ACM TOMS 42(4), 2016) applied twice and keeps 53
bits; :func:`normal` is the Box–Muller transform of two such streams; :func:`smooth` blends
normal knots with the smoothstep weight.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["FloatArray", "IntArray", "key", "mix", "normal", "smooth", "uniform"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_MASK = (1 << 64) - 1


def key(*parts: object) -> int:
    """The 64-bit key of a stream named by ``parts`` (joined by ``|`` as text)."""
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The SplitMix64 finaliser (a bijection of 64-bit words)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def uniform(k: int, idx: Any) -> FloatArray:
    """Hashed U[0, 1) values, one per integer in ``idx`` (same key and index: same value)."""
    k64 = np.uint64((k * 0x9E3779B97F4A7C15) & _MASK)
    x = np.atleast_1d(np.asarray(idx, dtype=np.int64)).astype(np.uint64) + k64
    return (mix(mix(x)) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def normal(k: int, idx: Any) -> FloatArray:
    """Hashed standard normal values, one per integer in ``idx`` (Box–Muller)."""
    u1 = np.maximum(uniform(k, idx), 1e-300)
    u2 = uniform(k ^ 0x5DEECE66D, idx)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * u2)


def smooth(k: int, t: IntArray, knot_s: int) -> FloatArray:
    """Smooth hashed noise (about unit variance) with knots every ``knot_s`` seconds."""
    i = np.floor_divide(t, knot_s)
    f = (t - i * knot_s) / knot_s
    s = f * f * (3 - 2 * f)
    return ((1 - s) * normal(k, i) + s * normal(k, i + 1)) / np.sqrt((1 - s) ** 2 + s**2)
