"""The model strategy serves a mixed list: past items it proposes again carry how often the
customer buys them, new items the past purchase they resemble (in process, no server)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tailor.serving import strategies
from tailor.serving.artefacts import Ranked, ServingData, _repeat_every


def data() -> ServingData:
    """Items 0..3; u bought 0 (in 3 orders over 28 days) and 1; the model proposes 2, 0, 3;
    item 3's content neighbour is 1 (u bought it), item 2 has none."""
    nb_idx = np.array([[1], [3], [0], [1]])
    nb_sim = np.array([[0.0], [0.8], [0.0], [0.8]], dtype=np.float32)
    bought = pd.DataFrame(
        {
            "user_id": ["u", "u"],
            "item_id": ["a", "b"],
            "row": [0, 1],
            "n_orders": [3, 1],
            "first_ts": pd.to_datetime(["2024-01-01", "2024-01-20"]),
            "last_ts": pd.to_datetime(["2024-01-29", "2024-01-20"]),
        }
    )
    return ServingData(
        item_ids=np.array(["a", "b", "c", "d"], dtype=object),
        titles=["A", "B", "C", "D"],
        item_index={"a": 0, "b": 1, "c": 2, "d": 3},
        nb_idx=nb_idx,
        nb_sim=nb_sim,
        popularity={},
        candidates={"u": Ranked(np.array([2, 0, 3]), np.array([3.0, 2.0, 1.0]))},
        users={},
        bought={"u": np.array([0, 1])},
        next_purchase={},
        replenishment={},
        params={},
        as_of=pd.Timestamp("2024-02-01"),
        repeat_every=_repeat_every(bought),
    )


def test_past_items_the_model_proposes_say_how_often_new_ones_what_they_resemble() -> None:
    d = data()
    assert d.repeat_every == {"u": {0: 14.0}}  # 28 days over 2 gaps
    assert strategies.repeat_rows(d, "u") == {0}  # 1 was bought but not proposed
    scored = strategies.model(d, "u")
    assert scored.reason(0, d.titles) == "bought again every ~14 days"
    assert scored.reason(3, d.titles) == "similar to B"
    assert scored.reason(2, d.titles) == "ranked for you by the tuned model"
    assert strategies.repeat_rows(d, "nobody") == set()
