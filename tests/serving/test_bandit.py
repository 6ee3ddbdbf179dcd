"""Thompson sampling picks the arm with more clicks more often (fixed seed)."""

from __future__ import annotations

import numpy as np

from tailor.serving.bandit import choose, posterior_mean


def test_prefers_the_arm_with_higher_click_rate() -> None:
    rng = np.random.default_rng(0)
    counts = {
        "model": {"impression": 100, "click": 5},
        "content": {"impression": 100, "click": 30},
    }
    picks = [choose(["model", "content"], counts, rng) for _ in range(500)]
    assert picks.count("content") > 480


def test_explores_when_nothing_is_known() -> None:
    rng = np.random.default_rng(1)
    picks = [choose(["a", "b", "c"], {}, rng) for _ in range(600)]
    assert all(150 < picks.count(arm) < 250 for arm in "abc")


def test_learns_online_from_simulated_clicks() -> None:
    rng, sim = np.random.default_rng(2), np.random.default_rng(3)
    rates = {"model": 0.05, "content": 0.05, "popularity": 0.3}
    counts = {arm: {"impression": 0, "click": 0} for arm in rates}
    picks = []
    for _ in range(1500):
        arm = choose(list(rates), counts, rng)
        picks.append(arm)
        counts[arm]["impression"] += 1
        counts[arm]["click"] += int(sim.random() < rates[arm])
    assert picks[-300:].count("popularity") / 300 > 0.8
    assert posterior_mean(counts["popularity"]) > posterior_mean(counts["model"])


def test_single_arm_needs_no_counts() -> None:
    assert choose(["popularity"], {}, np.random.default_rng(0)) == "popularity"
