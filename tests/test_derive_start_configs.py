"""The neutral settings that bench/derive_start_configs.py starts its search from."""

from __future__ import annotations

import yaml

from bench.derive_start_configs import candidates, neutral
from tests.conftest import ROOT


def test_neutral_settings_switch_every_prior_off_and_take_the_middle_of_the_rest() -> None:
    families = yaml.safe_load((ROOT / "conf/base/parameters_recommender.yml").read_text())
    ease = neutral(families["recommender"]["families"]["ease"]["space"])
    assert ease == {
        "lam": 300, "half_life_days": 180, "prior_recent_days": 30, "prior_long_days": 90,
        "prior_smoothing": 5.0, "prior_trend_exponent": 0.0, "prior_popularity_exponent": 0.0,
        "prior_repeat_exponent": 0.0, "prior_history_half_life_days": 0,
    }  # fmt: skip
    lightfm = neutral(families["recommender"]["families"]["lightfm"]["space"])
    assert lightfm["hybrid"] is False and lightfm["loss"] == "warp"
    assert lightfm["learning_rate"] == 0.0447  # geometric middle of 0.02..0.1
    assert lightfm["epochs"] == 11  # middle of 6..16
    assert candidates({"type": "float", "low": 10.0, "high": 1000.0, "log": True}) == [
        10.0, 100.0, 1000.0
    ]  # fmt: skip
