"""Which candidate is served: among those that never lose to the popularity baseline on any
validation window, the simplest whose mean is within one standard error of the best mean
(the one-standard-error rule); popularity itself when none beats it.

Why the floor: a mean alone can be carried by one window whose quirk (a seasonal ramp, a
holiday peak) the next month does not repeat; the shops where the old single-window choice
failed had a candidate that won one window big and lost to popularity on the next.
Popularity is what a shop gets for free.

Why the one-standard-error rule: with two or three windows that disagree (on one grocery
shop popularity alone varied 2.6x between two months), a best mean ahead by less than the
spread of its lead across windows is noise; there the served blend scored 0.88x popularity
on the test month and every tuned family fell below its untuned version. So a more complex
candidate is served only if its mean lead over each simpler one exceeds the standard error
of that lead over the windows (the paired differences, std with ddof 1 / sqrt(windows)).
The lead is paired by window because a window's level (a season) moves every candidate
together: the standard error of the best's own scores would measure that level shift, not
the comparison (on the default data it would serve item-kNN over a blend that beat it by
0.015 on both windows). The record states the margin and the spread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def standard_error(values: Sequence[float]) -> float:
    """Standard error of a mean over windows (0 for a single window)."""
    x = np.asarray(values, dtype=float)
    return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else 0.0


def lead(best: Sequence[float], other: Sequence[float]) -> tuple[float, float]:
    """(mean, standard error) of ``best - other`` paired by window."""
    d = np.asarray(best, dtype=float) - np.asarray(other, dtype=float)
    return float(d.mean()), standard_error(d)


def choose_served(
    candidates: dict[str, dict[str, Any]],
    baseline: str,
    target: str,
    min_window_ratio: float = 1.0,
    simplest_first: Sequence[str] | None = None,
    one_se: bool = True,
) -> dict[str, Any]:
    """``{candidate, fallback, reason, eligible, rejected, best, versus, margin, spread}``
    from validation only (``margin`` +- ``spread``: the best's mean lead over ``versus``,
    the served candidate or else the runner-up, and its standard error over windows).

    ``candidates``: name -> {val_metrics (means), val_windows (per window)}; ``baseline``
    names the popularity baseline among them. A candidate is eligible when on every window
    its ``target`` is >= ``min_window_ratio`` x the baseline's and its mean is above the
    baseline's mean. ``simplest_first`` orders the candidates by complexity (unlisted ones
    come last, in ``candidates`` order); with ``one_se`` the served one is the first in
    that order whose paired lead by the best is at most its standard error; else the best
    mean.
    """
    if baseline not in candidates:
        raise ValueError(f"recommender.selection.baseline '{baseline}' is not a candidate")
    base = candidates[baseline]
    base_windows = [w[target] for w in base["val_windows"]]
    base_mean = base["val_metrics"][target]
    eligible: dict[str, float] = {}
    rejected: dict[str, str] = {}
    for name, c in candidates.items():
        if name == baseline:
            continue
        windows = [w[target] for w in c["val_windows"]]
        losses = [
            i
            for i, (v, b) in enumerate(zip(windows, base_windows, strict=True))
            if v < min_window_ratio * b
        ]
        mean = c["val_metrics"][target]
        if losses:
            rejected[name] = f"below {baseline} on window(s) {losses}"
        elif mean <= base_mean:
            rejected[name] = f"mean {mean:.4f} <= {baseline} {base_mean:.4f}"
        else:
            eligible[name] = mean
    if not eligible:
        return {
            "candidate": baseline,
            "fallback": True,
            "reason": f"no candidate beat {baseline} on every validation window",
            "mean": base_mean,
            "eligible": {},
            "rejected": rejected,
        }
    best = max(eligible, key=lambda n: eligible[n])
    scores = {n: [w[target] for w in candidates[n]["val_windows"]] for n in eligible}
    order = [n for n in (simplest_first or []) if n in eligible]
    order += [n for n in eligible if n not in order]
    chosen = best
    if one_se:
        chosen = next(n for n in order if n == best or _within(scores[best], scores[n]))
    others = [n for n in eligible if n != best]
    # margin and spread of the lead over the served one, or over the runner-up
    versus = chosen if chosen != best else max(others, key=lambda n: eligible[n], default=None)
    margin, spread = lead(scores[best], scores[versus]) if versus else (0.0, 0.0)
    if chosen == best:
        reason = (
            f"best mean {target} over {len(base_windows)} windows ({eligible[best]:.4f}) "
            f"among candidates never below {baseline} on a window"
            + (
                f"; every simpler candidate trails by more than one standard error "
                f"(runner-up {versus}: {margin:.4f} +- {spread:.4f})"
                if one_se and versus
                else ""
            )
        )
    else:
        reason = (
            f"simplest candidate within one standard error of the best mean {target}: "
            f"{best} ({eligible[best]:.4f}) leads {chosen} by {margin:.4f} +- {spread:.4f} "
            f"over the windows; among candidates never below {baseline} on a window"
        )
    return {
        "candidate": chosen,
        "fallback": False,
        "reason": reason,
        "mean": eligible[chosen],
        "best": best,
        "best_mean": eligible[best],
        "versus": versus,
        "margin": margin,
        "spread": spread,
        "windows": [w[target] for w in candidates[best]["val_windows"]],
        "eligible": eligible,
        "rejected": rejected,
    }


def _within(best: Sequence[float], other: Sequence[float]) -> bool:
    margin, spread = lead(best, other)
    return margin <= spread
