"""The MLOps loop end to end on the synthetic shop, over real HTTP:

train on the shop as it was on Nov 30 -> register (champion v1) -> package -> serve
(/version says v1) -> a month of newer data arrives -> `make retrain-if-needed`: monitoring
flags the drift the synthetic world carries since October (bigger baskets, dearer items,
more app traffic) and retrains; with a worse configuration the challenger loses on
December, v1 stays champion and packaging again still serves v1; with a better one it wins,
is promoted, re-packaged by the loop, and the restarted service answers from the new
version.

Which configuration is better is not assumed: the test reads both scores of each
comparison from the registry record and checks the decision follows them. The candidates
are chosen so the synthetic world separates them on December (NDCG@10 measured once:
EASE lam=500 0.19, EASE lam=20000 0.15, popularity 0.09).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import requests
from mlflow import MlflowClient

from tests.conftest import ENV, make_project_copy, run_kedro
from tests.serving.conftest import API_KEY, run_server

pytestmark = pytest.mark.e2e

MODEL = "tailor-recommender-synthetic"
# One synthetic world throughout (its drift is part of it); no tuning: baselines only.
BASE = "synthetic_users=300,synthetic_drift=true"
FIRST = (
    f"{BASE},data_engineering.data_end=2023-11-30,recommender.candidates=[ease_default],"
    "recommender.baselines.ease_default.params.lam=20000"
)
NEWER = BASE
RETRAIN = "monitoring.retrain.pipelines=recommender"
WORSE = f"{NEWER},{RETRAIN},recommender.candidates=[popularity]"
BETTER = f"{NEWER},{RETRAIN},recommender.candidates=[ease_default]"


def retrain_if_needed(project: Path, params: str, home: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tailor.monitoring.retrain_loop", "--env", "synthetic",
         "--params", params, "--project", "."],
        cwd=project, env={**ENV, "BENTOML_HOME": str(home)},
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.fail(f"retrain-if-needed failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")


def served_version(home: Path, workdir: Path) -> tuple[dict, list[str]]:
    """/version (GET, public) and one known user's answer from a fresh server on ``home``."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        **ENV,
        "BENTOML_HOME": str(home),
        "TAILOR_WORKERS": "1",
        "TAILOR_API_KEY": API_KEY,
        "TAILOR_SUPPRESSION_LIST": str(workdir / "suppression_list.csv"),
        "TAILOR_STORE_PATH": str(workdir / "profile_store.sqlite"),
    }
    env.pop("TAILOR_REDIS_URL", None)
    with run_server(env, workdir) as srv:
        version = requests.get(f"{srv.url}/version", timeout=30).json()
        answer = srv.ok("/recommend", {"user_id": KNOWN_USER[0], "k": 10, "strategy": "model"})
    return version, [i["item_id"] for i in answer["items"]]


KNOWN_USER: list[str] = []


def test_loop_keeps_a_worse_challenger_and_promotes_a_better_one(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project = make_project_copy(tmp_path_factory.mktemp("loop_project"))
    home = project / "bentoml_home"
    env_home = {"BENTOML_HOME": str(home)}
    uri = f"sqlite:///{project / 'mlflow.db'}"
    client = MlflowClient(uri, registry_uri=uri)  # not a registry another test left set
    data = project / "data/synthetic"

    # 1. train on the shop as it was on Nov 30; the first model becomes champion v1
    run_kedro(project, "--env", "synthetic", "--pipelines", "data_engineering,recommender",
              "--params", FIRST)  # fmt: skip
    first = json.loads((data / "08_reporting/recommender_registry.json").read_text())
    assert first["alias"] == "champion" and first["comparison"] == "none"
    v1 = client.get_model_version_by_alias(MODEL, "champion")
    assert v1.tags["as_of"].startswith("2023-11-29")  # the serving refit saw all data to then

    # 2. package from the registry and serve
    run_kedro(project, "--env", "synthetic", "--pipeline", "serving", "--params", FIRST,
              env=env_home)  # fmt: skip
    users = pd.read_parquet(data / "03_primary/interactions.parquet")["user_id"]
    KNOWN_USER.append(str(users.astype(str).value_counts().index[0]))
    version, v1_items = served_version(home, project / "serve1")
    assert (version["model_version"], version["alias"]) == (str(v1.version), "champion")
    assert version["run_id"] == v1.run_id and version["model_name"] == MODEL

    # 3. a month of newer data arrives
    run_kedro(project, "--env", "synthetic", "--pipeline", "data_engineering", "--params", NEWER)

    # 4. retraining with a worse configuration: compared on December, it loses; v1 stays
    retrain_if_needed(project, WORSE, home)
    worse = json.loads((data / "08_reporting/recommender_registry.json").read_text())
    assert worse["comparison"] == "recent_window", worse
    assert worse["start"].startswith("2023-11-29") and worse["n_users"] >= 20
    assert worse["challenger_score"] < worse["champion_score"], worse
    assert worse["alias"] == "challenger" and not worse["promote"]
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == str(v1.version)
    decisions = pd.read_csv(data / "08_reporting/monitoring/retrain_decisions.csv")
    assert bool(decisions.iloc[-1]["retrain_recommended"]) and not decisions.iloc[-1]["promoted"]
    # `make package` after the lost challenge still packages (and serves) the champion
    run_kedro(project, "--env", "synthetic", "--pipeline", "serving", "--params", NEWER,
              env=env_home)  # fmt: skip
    version, _ = served_version(home, project / "serve2")
    assert version["model_version"] == str(v1.version)

    # 5. retraining with a better configuration: it wins on December, is promoted and the
    # loop packages it; the restarted service answers from the new version
    retrain_if_needed(project, BETTER, home)
    better = json.loads((data / "08_reporting/recommender_registry.json").read_text())
    assert better["comparison"] == "recent_window", better
    assert better["challenger_score"] > better["champion_score"], better
    assert better["alias"] == "champion" and better["promote"]
    new = client.get_model_version_by_alias(MODEL, "champion")
    assert str(new.version) == better["version"] != str(v1.version)
    decisions = pd.read_csv(data / "08_reporting/monitoring/retrain_decisions.csv")
    last = decisions.iloc[-1]
    assert bool(last["promoted"]) and bool(last["packaged"])
    assert str(last["new_champion_version"]) == str(new.version)
    version, items = served_version(home, project / "serve3")
    assert (version["model_version"], version["run_id"]) == (str(new.version), new.run_id)
    assert version["model_as_of"].startswith("2023-12")  # refit on the newest data
    newest = max(
        home.glob("models/tailor-recommender/*/candidates.parquet"), key=lambda p: p.stat().st_mtime
    )
    candidates = pd.read_parquet(newest)
    mine = candidates.loc[candidates["user_id"] == KNOWN_USER[0], "item_id"].astype(str)
    assert items and set(items) <= set(mine)  # the new champion's candidates
    assert items != v1_items  # ... not the old champion's answer
