"""Progress bars for the loops a user waits for (trials, epochs, folds, resamples).

Bars draw only when stderr is a terminal, so CI logs and `kedro run > log` stay readable;
``TAILOR_PROGRESS=1`` / ``0`` forces them on / off. Bars vanish when done (``leave=False``):
the log lines that follow say what happened.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any, TypeVar

import optuna
from tqdm import tqdm

T = TypeVar("T")
ENV_SWITCH = "TAILOR_PROGRESS"


def enabled(stream: IO[str] | None = None) -> bool:
    """Whether bars draw on ``stream`` (default stderr): a terminal, unless overridden."""
    forced = os.environ.get(ENV_SWITCH, "").strip().lower()
    if forced in {"1", "true", "yes", "on"}:
        return True
    if forced in {"0", "false", "no", "off"}:
        return False
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


def progress(
    iterable: Iterable[T],
    desc: str,
    total: int | None = None,
    unit: str = "it",
    stream: IO[str] | None = None,
) -> Iterator[T]:
    """``iterable`` with a bar named ``desc`` on stderr (nothing when not a terminal)."""
    stream = sys.stderr if stream is None else stream
    return iter(
        tqdm(
            iterable,
            desc=desc,
            total=total,
            unit=unit,
            file=stream,
            leave=False,
            disable=not enabled(stream),
        )
    )


class TrialProgress:
    """An Optuna callback: one bar per study, the best value so far in its postfix.

    The bar closes when the budget is used up; a study stopped by its timeout closes it
    when the callback is released after ``optimize`` returns.
    """

    def __init__(self, total: int, desc: str, stream: IO[str] | None = None) -> None:
        stream = sys.stderr if stream is None else stream
        self.bar: Any = tqdm(
            total=total,
            desc=desc,
            unit="trial",
            file=stream,
            leave=False,
            disable=not enabled(stream),
        )

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self.bar.update(1)
        with contextlib.suppress(ValueError):  # no complete trial yet (all pruned or failed)
            self.bar.set_postfix_str(f"best {study.best_value:.4g}")
        if self.bar.total is not None and self.bar.n >= self.bar.total:
            self.bar.close()

    def __del__(self) -> None:
        self.bar.close()
