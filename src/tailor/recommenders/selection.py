"""Which candidate is served: the best mean over the validation windows among those that
never lose to the popularity baseline on any window; popularity itself when none does.

Why this rule: a mean alone can be carried by one window whose quirk (a seasonal ramp, a
holiday peak) the next month does not repeat; the shops where the old single-window choice
failed had a candidate that won one window big and lost to popularity on the next. A
candidate that beats popularity on every window has shown it generalises across at least
two origins, and popularity is what a shop gets for free, so it is the floor.
"""

from __future__ import annotations

from typing import Any


def choose_served(
    candidates: dict[str, dict[str, Any]],
    baseline: str,
    target: str,
    min_window_ratio: float = 1.0,
) -> dict[str, Any]:
    """``{candidate, fallback, reason, eligible, rejected}`` from validation only.

    ``candidates``: name -> {val_metrics (means), val_windows (per window)}; ``baseline``
    names the popularity baseline among them. A candidate is eligible when on every window
    its ``target`` is >= ``min_window_ratio`` x the baseline's and its mean is above the
    baseline's mean. Ties go to the earlier name in ``candidates`` order.
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
    return {
        "candidate": best,
        "fallback": False,
        "reason": (
            f"best mean {target} over {len(base_windows)} windows ({eligible[best]:.4f}) "
            f"among candidates never below {baseline} on a window"
        ),
        "mean": eligible[best],
        "eligible": eligible,
        "rejected": rejected,
    }
