"""The served pyfunc contract (cold start included), and the registry datasets with the
champion/challenger rule against a real SQLite MLflow store."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from tailor.recommenders import make_candidate
from tailor.recommenders.champion import comparison_window, decide, window_score
from tailor.recommenders.model_registry import ChampionModelDataset, RegisteredModelDataset
from tailor.recommenders.pyfunc import pyfunc_kwargs


@pytest.fixture(scope="module")
def fitted(tiny: dict[str, pd.DataFrame]):
    params = {"lam": 10.0, "min_item_buyers": 1, "prior_trend_exponent": 0.3}
    return make_candidate("ease", params, 1).fit(tiny["interactions"], tiny["items"], tiny["users"])


def test_bundle_pyfunc_contract(fitted, tiny: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    bundle = tmp_path / "recommender"
    kwargs = pyfunc_kwargs(fitted, tiny["items"], {"candidate": "ease"}, tmp_path / "work")
    mlflow.pyfunc.save_model(path=str(bundle), **kwargs)
    assert (bundle / "MLmodel").exists()
    model = mlflow.pyfunc.load_model(str(bundle))
    request = pd.DataFrame(
        {
            "user_id": ["u001", "stranger", "visitor", "u002"],
            "k": [5, 3, 4, 2],
            "recent_items": ["", "", "i021|i022|not-an-item", "i039"],
        }
    )
    out = model.predict(request)
    assert list(out.columns) == ["user_id", "rank", "item_id", "score"]
    assert out.groupby("user_id").size().to_dict() == {
        "u001": 5,
        "stranger": 3,
        "visitor": 4,
        "u002": 2,
    }
    assert out["user_id"].drop_duplicates().tolist() == request["user_id"].tolist()
    bought = set(tiny["interactions"].query("user_id == 'u001'")["item_id"])
    assert not bought & set(out.query("user_id == 'u001'")["item_id"])
    assert not {"i021", "i022"} & set(out.query("user_id == 'visitor'")["item_id"])
    assert "i039" not in set(out.query("user_id == 'u002'")["item_id"])
    # The same model object answers the same way as the loaded bundle.
    direct = fitted.recommend(["u001"], 5)
    assert direct["item_id"].tolist() == out.query("user_id == 'u001'")["item_id"].tolist()


def test_registry_datasets_move_aliases_by_the_decision(
    fitted, tiny: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_registry_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    name = "tailor-recommender-test"
    registry = RegisteredModelDataset(str(tmp_path / "registry.json"), model_name=name)
    champion_ds = ChampionModelDataset(model_name=name)
    info = {"as_of": str(fitted.as_of), "candidate": "ease"}

    def register(decision: dict, val: float) -> dict:
        with mlflow.start_run():
            registry.save(
                {"model": fitted, "items": tiny["items"], "info": info,
                 "decision": decision, "val_score": val}
            )  # fmt: skip
        return registry.load()

    try:
        mlflow.set_experiment("registry-test")
        assert champion_ds.load() is None  # nothing registered yet
        first = register(decide(None, None, 0.20), 0.20)
        assert (first["version"], first["alias"]) == ("1", "champion")
        champ = champion_ds.load()
        assert champ["version"] == "1" and champ["val_score"] == pytest.approx(0.2)
        assert champ["as_of"] == str(fitted.as_of)
        assert champ["model"].recommend(["u001"], 3)["item_id"].tolist() == (
            fitted.recommend(["u001"], 3)["item_id"].tolist()
        )
        # no new data: validation decides; lower, or equal at stored precision, loses
        worse = decide(champ, None, 0.10)
        assert not worse["promote"] and worse["comparison"] == "validation"
        assert register(worse, 0.10)["alias"] == "challenger"
        assert not decide(champ, None, 0.2000001)["promote"]
        assert champion_ds.load()["version"] == "1"
        # on the comparison window the window scores decide, whatever validation said
        window = {"start": "s", "end": "e", "n_users": 40, "challenger": 0.3, "champion": 0.2}
        better = decide(champ, window, 0.0)
        assert better["promote"] and better["comparison"] == "recent_window"
        assert register(better, 0.0)["alias"] == "champion"
        assert champion_ds.load()["version"] == "3"
        # a champion fitted past the end of this data (another shop's, or data rewound)
        # is not judged on it: kept, whatever the scores
        future = decide(champ, window, 0.9, pd.Timestamp(champ["as_of"]) - pd.Timedelta(days=1))
        assert not future["promote"] and future["comparison"] == "incomparable"
        lost = decide(champ, {**window, "challenger": 0.1}, 0.9)
        assert not lost["promote"] and "0.1000 <= champion" in lost["reason"]
        loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
        out = loaded.predict(pd.DataFrame({"user_id": ["x"], "k": [3], "recent_items": [""]}))
        assert len(out) == 3
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


def test_comparison_window_scores_only_what_the_champion_did_not_see(
    fitted, tiny: dict[str, pd.DataFrame]
) -> None:
    lines = tiny["interactions"].astype({"user_id": str, "item_id": str})
    as_of = lines["ts"].quantile(0.8)
    before, relevant = comparison_window(lines, as_of)
    assert before["ts"].max() <= as_of
    after = lines[lines["ts"] > as_of]
    for user, items in relevant.items():
        bought_after = set(after.loc[after["user_id"] == user, "item_id"])
        bought_before = set(before.loc[before["user_id"] == user, "item_id"])
        assert items and items <= bought_after and not items & bought_before
    assert set(relevant) <= set(before["user_id"])
    # Scored by a model fitted on what came before: NDCG@10 recomputed by hand from its
    # lists (binary gains, ideal DCG over min(|relevant|, 10) hits, mean over buyers).
    params = {"lam": 10.0, "min_item_buyers": 1}
    model = make_candidate("ease", params, 1).fit(before, tiny["items"], tiny["users"])
    score = window_score(model, relevant, 10, lines["item_id"].nunique())
    recs = model.recommend(sorted(relevant), 10)
    per_user = []
    for user, items in relevant.items():
        ranked = recs[recs["user_id"] == user].sort_values("rank")["item_id"].tolist()
        dcg = sum(1 / np.log2(r + 2) for r, item in enumerate(ranked[:10]) if item in items)
        ideal = sum(1 / np.log2(r + 2) for r in range(min(len(items), 10)))
        per_user.append(dcg / ideal)
    assert score == pytest.approx(np.mean(per_user), abs=1e-12)
    assert score > 0.05  # the planted tastes are learnable: well above an empty list
