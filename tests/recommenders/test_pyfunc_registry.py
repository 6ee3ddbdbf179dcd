"""The served pyfunc contract (cold start included) and the champion/challenger rule
against a real SQLite MLflow store."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from tailor.recommenders import make_candidate
from tailor.recommenders.champion import promote
from tailor.recommenders.pyfunc import pyfunc_kwargs, save_bundle


@pytest.fixture(scope="module")
def fitted(tiny: dict[str, pd.DataFrame]):
    params = {"lam": 10.0, "min_item_buyers": 1, "prior_trend_exponent": 0.3}
    return make_candidate("ease", params, 1).fit(tiny["interactions"], tiny["items"], tiny["users"])


def test_bundle_pyfunc_contract(fitted, tiny: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    bundle = tmp_path / "recommender"
    save_bundle(fitted, tiny["items"], {"candidate": "ease"}, bundle, tmp_path / "work")
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


def test_champion_rule_on_sqlite_store(fitted, tiny: dict[str, pd.DataFrame], tmp_path: Path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_registry_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        mlflow.set_experiment("registry-test")
        with mlflow.start_run():
            logged = mlflow.pyfunc.log_model(
                name="recommender", **pyfunc_kwargs(fitted, tiny["items"], {}, tmp_path / "w")
            )
        client = MlflowClient()
        name = "tailor-recommender-test"
        versions = [mlflow.register_model(logged.model_uri, name).version for _ in range(3)]
        first = promote(client, name, versions[0], 0.20)
        assert first["alias"] == "champion"
        worse = promote(client, name, versions[1], 0.10)
        assert worse["alias"] == "challenger" and "stays challenger" in worse["reason"]
        assert str(client.get_model_version_by_alias(name, "champion").version) == str(versions[0])
        assert str(client.get_model_version_by_alias(name, "challenger").version) == str(
            versions[1]
        )
        tie = promote(client, name, versions[2], 0.2000001)
        assert tie["alias"] == "challenger"  # equal (at stored precision) is not better
        better = promote(client, name, versions[2], 0.30)
        assert better["alias"] == "champion"
        assert str(client.get_model_version_by_alias(name, "champion").version) == str(versions[2])
        loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
        out = loaded.predict(pd.DataFrame({"user_id": ["x"], "k": [3], "recent_items": [""]}))
        assert len(out) == 3
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
