"""The packaged artefacts as in-memory arrays, ready for per-request scoring.

``package.py`` writes four BentoML models; this module reads their directories. Items are
addressed by their row in the catalog (``idx``) so that every strategy scores a dense
vector and the top-k is one ``argpartition``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

RECOMMENDER, CATALOG, PROFILES, NEXT_PURCHASE = (
    "tailor-recommender",
    "tailor-catalog",
    "tailor-profiles",
    "tailor-next-purchase",
)
NEW_SEGMENT, ANONYMOUS_SEGMENT = "new", "anonymous"


@dataclass
class Ranked:
    """Items (catalog rows) with scores, best first."""

    idx: np.ndarray
    score: np.ndarray


@dataclass
class UserInfo:
    segment: str
    country: str | None
    cluster_id: int | None
    cluster_label: str | None
    rule_segment: str | None
    consent: bool


@dataclass
class ServingData:
    item_ids: np.ndarray
    titles: list[str]
    item_index: dict[str, int]
    nb_idx: np.ndarray  # (n_items, M) content neighbours
    nb_sim: np.ndarray
    popularity: dict[tuple[str, str], Ranked]  # ("global", ""), ("country", c), ("segment", s)
    candidates: dict[str, Ranked]  # the tuned model's top-N per known user
    users: dict[str, UserInfo]
    bought: dict[str, np.ndarray]  # historical purchases (catalog rows), newest first
    next_purchase: dict[str, dict[str, Any]]
    replenishment: dict[str, pd.DataFrame]
    params: dict[str, Any]
    as_of: pd.Timestamp
    sources: dict[str, str] = field(default_factory=dict)
    registry: dict[str, Any] = field(default_factory=dict)  # the MLflow model version served
    # user -> {catalog row: mean days between orders} of items bought in >= 2 orders: the
    # "bought again every ~N days" reason of a past item the model serves again
    repeat_every: dict[str, dict[int, float]] = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)


def _with_rows(df: pd.DataFrame, index: dict[str, int]) -> pd.DataFrame:
    """``df`` with its items' catalog rows (``row``), unknown items dropped. Once per table:
    ``Series.map`` with a dict turns the whole dict into a Series on every call, which per
    user of a 68k-item catalog made loading take minutes."""
    return df.assign(row=df["item_id"].map(index)).dropna(subset=["row"])


def _ranked(df: pd.DataFrame) -> Ranked:
    """Rows of ``df`` (from ``_with_rows``) by descending score, ties in table order."""
    order = np.argsort(-df["score"].to_numpy(), kind="stable")
    return Ranked(
        df["row"].to_numpy()[order].astype(np.int64),
        df["score"].to_numpy()[order].astype(np.float32),
    )


def _grouped(df: pd.DataFrame, key: str, index: dict[str, int]) -> dict[str, Ranked]:
    if df.empty:
        return {}
    return {str(k): _ranked(g) for k, g in _with_rows(df, index).groupby(key, sort=False)}


def _repeat_every(bought: pd.DataFrame) -> dict[str, dict[int, float]]:
    """Mean days between the orders of each item bought in >= 2 orders (bundles packaged
    before ``first_ts`` existed have none)."""
    if "first_ts" not in bought or bought.empty:
        return {}
    rep = bought[bought["n_orders"] >= 2]
    span = (pd.to_datetime(rep["last_ts"]) - pd.to_datetime(rep["first_ts"])).dt.days
    days = (span / (rep["n_orders"] - 1)).to_numpy(float)
    out: dict[str, dict[int, float]] = {}
    for u, row, d in zip(rep["user_id"].astype(str), rep["row"].astype(int), days, strict=True):
        out.setdefault(u, {})[int(row)] = float(d)
    return out


def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.exists() else pd.DataFrame()


def load(recommender: Path, catalog: Path, profiles: Path, next_purchase: Path) -> ServingData:
    """Read the four model directories written by the ``serving`` pipeline."""
    items = pd.read_parquet(catalog / "items.parquet")
    item_ids = items["item_id"].astype(str).to_numpy()
    index = {item: i for i, item in enumerate(item_ids)}
    nb = np.load(catalog / "neighbors.npz")
    pop = _read(catalog / "popularity.parquet")
    popularity = {
        (str(scope), str(key)): _ranked(g)
        for (scope, key), g in _with_rows(pop, index).groupby(["scope", "key"], sort=False)
    }
    meta = json.loads((recommender / "serving.json").read_text())
    users_df = _read(profiles / "users.parquet")
    users = {
        str(r.user_id): UserInfo(
            segment=str(r.segment),
            country=None if pd.isna(r.country) else str(r.country),
            cluster_id=None if pd.isna(r.cluster_id) else int(r.cluster_id),
            cluster_label=None if pd.isna(r.cluster_label) else str(r.cluster_label),
            rule_segment=None if pd.isna(r.rule_segment) else str(r.rule_segment),
            consent=bool(r.consent),
        )
        for r in users_df.itertuples(index=False)
    }
    bought_df = _read(profiles / "bought.parquet")
    bought: dict[str, np.ndarray] = {}
    repeat_every: dict[str, dict[int, float]] = {}
    if not bought_df.empty:
        bought_df = bought_df.assign(row=bought_df["item_id"].map(index)).dropna(subset=["row"])
        bought_df = bought_df.sort_values("last_ts", ascending=False)
        bought = {
            str(u): g["row"].to_numpy(np.int64) for u, g in bought_df.groupby("user_id", sort=False)
        }
    repeat_every = _repeat_every(bought_df)
    nxt = _read(next_purchase / "next_purchase.parquet")
    next_rows = {
        str(r["user_id"]): {k: v for k, v in r.items() if k != "user_id"}
        for r in nxt.to_dict("records")
    }
    rep = _read(next_purchase / "replenishment.parquet")
    if not rep.empty:
        rep = rep.assign(row=rep["item_id"].astype(str).map(index)).dropna(subset=["row"])
    replenishment = (
        {str(u): g.sort_values("due_date") for u, g in rep.groupby("user_id", sort=False)}
        if not rep.empty
        else {}
    )
    data = ServingData(
        item_ids=item_ids,
        titles=items["description"].fillna(items["item_id"]).astype(str).tolist(),
        item_index=index,
        nb_idx=nb["idx"],
        nb_sim=nb["sim"],
        popularity=popularity,
        candidates=_grouped(_read(recommender / "candidates.parquet"), "user_id", index),
        users=users,
        bought=bought,
        repeat_every=repeat_every,
        next_purchase=next_rows,
        replenishment=replenishment,
        params=meta["params"],
        as_of=pd.Timestamp(meta["as_of"]),
        sources=meta.get("sources", {}),
        registry=meta.get("registry", {}),
    )
    log.info(
        "serving data: %d items, %d users with model candidates, %d profiles, %d next-purchase",
        data.n_items,
        len(data.candidates),
        len(users),
        len(next_rows),
    )
    return data
