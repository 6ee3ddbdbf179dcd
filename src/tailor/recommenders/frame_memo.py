"""Results computed once per interaction frame, keyed by the frame's identity.

One window's fit lines are read by every candidate, trial and mix of a run; the string
group-bys over them (distinct orders per pair, the order table) cost about a second each
on The Complete Journey and were repeated by every fit. A result lives as long as its frame
(``weakref.finalize`` drops it, so a new frame that reuses a dead one's id is computed
afresh). Frames are never changed in place after they are built, and callers must not
modify a cached result.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import TypeVar

import pandas as pd

T = TypeVar("T")


def per_frame(fn: Callable[[pd.DataFrame], T]) -> Callable[[pd.DataFrame], T]:
    """``fn`` memoised per live frame (by identity)."""
    cache: dict[int, T] = {}

    @functools.wraps(fn)
    def cached(frame: pd.DataFrame) -> T:
        key = id(frame)
        if key not in cache:
            cache[key] = fn(frame)
            weakref.finalize(frame, cache.pop, key, None)
        return cache[key]

    return cached
