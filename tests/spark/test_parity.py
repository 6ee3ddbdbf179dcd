"""Pandas and Spark data engineering on the same inputs give the same outputs.

Both engines run their node functions in pipeline order: the pandas ones of
``tailor.pipelines.data_engineering.nodes`` (whatever they currently return) and the
Spark ones of ``tailor.spark.nodes``. Inputs: a slice of the default data (real
cancellations, duplicates, fees, anonymous lines, float customer ids) with planted
outliers, suppressed and opted-out customers; and a small synthetic world in which every
optional source (users, events, e-mail, campaigns) has rows, so that every table is
compared row for row in CI. Counts must be equal, tables equal row for row after sorting,
floats within 1e-9.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from tailor.pipelines.data_engineering import nodes as pd_nodes
from tailor.schemas import DataContractError
from tailor.synthetic import generate

ROOT = Path(__file__).resolve().parents[2]
RAW = ROOT / "data/01_raw/online_retail/online_retail_ii.parquet"
PARAMS = yaml.safe_load((ROOT / "conf/base/parameters_data_engineering.yml").read_text())[
    "data_engineering"
]
SPLIT_UCI = {"cutoff": "2011-09-09", "test_end": None, "validation_days": 61}
SPLIT_SYNTH = {"cutoff": "2023-10-01", "test_end": None, "validation_days": 61}
TABLES = (
    "demand_lines",
    "customer_lines",
    "interactions",
    "interactions_train",
    "interactions_test",
    "interactions_fit",
    "interactions_val",
    "user_item_train",
    "item_catalog",
    "item_catalog_train",
    "daily_demand",
    "customer_features_val",
    "customer_features_train",
    "customer_features_serving",
    "users_clean",
    "events_clean",
    "email_clean",
    "campaigns_clean",
)


def run_engine(nodes: Any, raw: dict[str, Any], split: dict[str, Any]) -> dict[str, Any]:
    """Every data-engineering node of one engine, in pipeline order, on ``raw``."""
    none = pd.DataFrame()
    tx, users, events, email, items, sup, camp, info, resp = nodes.validate_raw_tables(
        raw["transactions"], raw["users"], raw["events"], raw["email"], raw["items"],
        raw["suppression"], raw.get("campaigns", none), raw.get("campaign_info", none),
        raw.get("campaign_responses", none), PARAMS["sources"],
    )  # fmt: skip
    demand, customer, report, metrics = nodes.clean_transactions(
        tx, users, sup, PARAMS["cleaning"], split
    )
    users_c, events_c, email_c, camp_c = nodes.filter_sources(
        users, events, email, camp, info, resp, sup
    )
    interactions = nodes.interaction_lines(customer)
    train, test, fit, val, split_metrics = nodes.split_interactions(interactions, split)
    # campaign features are pandas-only (the Spark engine refuses campaigns there): the
    # features are compared without them, the exposures table itself is compared below
    sources = (customer, users_c, events_c, email_c, camp_c.iloc[:0])
    return {
        "report": report,
        "metrics": metrics | split_metrics,
        "demand_lines": demand,
        "customer_lines": customer,
        "interactions": interactions,
        "interactions_train": train,
        "interactions_test": test,
        "interactions_fit": fit,
        "interactions_val": val,
        "user_item_train": nodes.user_item_matrix(train),
        "item_catalog": nodes.build_item_catalog(demand, items, PARAMS["catalog"]),
        "item_catalog_train": nodes.build_item_catalog_train(
            demand, items, PARAMS["catalog"], split
        ),
        "split_bounds": nodes.split_bounds(interactions, split),
        "daily_demand": nodes.daily_demand(demand),
        "customer_features_val": nodes.features_at_validation_cutoff(*sources, split),
        "customer_features_train": nodes.features_at_cutoff(*sources, split),
        "customer_features_serving": nodes.features_at_end(*sources),
        "users_clean": users_c,
        "events_clean": events_c,
        "email_clean": email_c,
        "campaigns_clean": camp_c,
    }


def as_pandas(frame: Any) -> pd.DataFrame:
    out = frame if isinstance(frame, pd.DataFrame) else frame.toPandas()
    out = out.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].astype("datetime64[ns]")
    return out


def assert_same_table(name: str, expected: Any, got: Any) -> None:
    exp, act = as_pandas(expected), as_pandas(got)
    assert list(act.columns) == list(exp.columns), name
    if exp.empty and act.empty:
        return
    cols = list(exp.columns)
    exp = exp.sort_values(cols, ignore_index=True)
    act = act.sort_values(cols, ignore_index=True)
    # an all-missing column of an empty or optional table has no dtype to agree on
    pd.testing.assert_frame_equal(act, exp, rtol=1e-9, atol=1e-9, check_dtype=True, obj=name)


def uci_slice() -> dict[str, pd.DataFrame]:
    """Every line of one customer in eight plus a tenth of the anonymous lines, with planted
    quantity and price outliers, a suppressed and an opted-out customer."""
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
    none = pd.DataFrame()
    return {
        "transactions": lines,
        "users": users,
        "events": none,
        "email": none,
        "items": none,
        "suppression": pd.DataFrame({"user_id": [str(int(customers[-1]))]}),
    }


def synthetic_world(n_users: int = 150) -> dict[str, pd.DataFrame]:
    tables = generate({"n_users": n_users, "seed": 11})
    for frame in tables.values():  # Spark timestamps are microseconds
        for col in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[col]):
                frame[col] = frame[col].dt.floor("us")
    users = tables["users"]
    return {
        "transactions": tables["transactions"],
        "users": users,
        "events": tables["events"],
        "email": tables["email"],
        "items": tables["items"],
        "suppression": users[["user_id"]].iloc[[3, 7]].reset_index(drop=True),
        **campaign_tables(tables["email"]),
    }


def campaign_tables(email: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Coupon campaigns beside the e-mails, in the three contract tables: every third
    exposure undated (placed by campaign_info's start), a repeated exposure, and a
    response for every click one day after the send."""
    sent = email[email["campaign_id"].isin(sorted(email["campaign_id"].unique())[::2])]
    campaigns = sent.assign(campaign_id="CPN" + sent["campaign_id"].str[3:])
    campaigns = campaigns[["user_id", "campaign_id", "sent_ts"]].reset_index(drop=True)
    campaigns.loc[campaigns.index % 3 == 0, "sent_ts"] = pd.NaT
    campaigns = pd.concat([campaigns, campaigns.iloc[[1]]], ignore_index=True)
    info = (
        sent.assign(campaign_id="CPN" + sent["campaign_id"].str[3:])
        .groupby("campaign_id", as_index=False)["sent_ts"].min()
        .rename(columns={"sent_ts": "start_ts"})
    )  # fmt: skip
    clicked = sent[sent["clicked"]]
    responses = pd.DataFrame({
        "user_id": clicked["user_id"],
        "campaign_id": "CPN" + clicked["campaign_id"].str[3:],
        "ts": clicked["sent_ts"] + pd.Timedelta(days=1),
    }).reset_index(drop=True)  # fmt: skip
    return {"campaigns": campaigns, "campaign_info": info, "campaign_responses": responses}


# The synthetic world runs in CI: it is the only input in which events, e-mail and
# campaigns have rows, so without it those tables would compare column names only. 40
# users keep every rule exercised (the fixture checks) at ~11k events.
WORLDS = ["synthetic_world", "default_data_slice"]
# Sources the default data does not have: empty in both engines on its slice.
ABSENT_IN_DEFAULT_DATA = {"events_clean", "email_clean", "campaigns_clean"}
CAMPAIGN_TABLES = ("campaigns", "campaign_info", "campaign_responses")


@pytest.fixture(scope="module", params=WORLDS)
def both(request: pytest.FixtureRequest, spark: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    from tailor.spark import nodes as spark_nodes

    if request.param == "default_data_slice":
        raw, split = uci_slice(), SPLIT_UCI
        # the default env reads transactions with Spark and optional tables with pandas
        spark_raw = dict(raw, transactions=spark.createDataFrame(raw["transactions"]))
    else:
        raw, split = synthetic_world(n_users=40), SPLIT_SYNTH
        # campaign tables are small: the Spark env reads them with pandas
        spark_raw = {k: v if k in CAMPAIGN_TABLES else spark.createDataFrame(v)
                     for k, v in raw.items()}  # fmt: skip
    expected = run_engine(pd_nodes, {k: v.copy() for k, v in raw.items()}, split)
    got = run_engine(spark_nodes, spark_raw, split)
    small = ("report", "metrics", "split_bounds")  # pandas objects or dicts in both engines
    got = {k: v if k in small else as_pandas(v) for k, v in got.items()}
    # the inputs exercise these rules, so a rule that silently did nothing would show
    exercised = ["exact_duplicates", "cancellation_lines", "cancelled_purchases"]
    exercised += ["outlier_quantity", "outlier_price", "suppressed_users", "opted_out_users"]
    if request.param == "synthetic_world":
        exercised = [s for s in exercised if not s.startswith("outlier")]
    counts = dict(zip(expected["report"]["step"], expected["report"]["rows"], strict=True))
    assert all(counts[s] > 0 for s in exercised), counts
    # the cleaning persists its stages: free them, and the JVM objects the driver held,
    # before the next world (left to chance, the second world ran out of driver memory)
    spark.catalog.clearCache()
    gc.collect()
    spark.sparkContext._jvm.System.gc()
    # no comparison may pass on an empty table: on the synthetic world every table has
    # rows; on the default slice only the sources that data does not have are empty
    absent = ABSENT_IN_DEFAULT_DATA if request.param == "default_data_slice" else set()
    empty = {t for t in TABLES if as_pandas(expected[t]).empty}
    assert empty == absent, (request.param, empty)
    if request.param == "synthetic_world":  # suppression and opt-out reach every source
        gone = set(raw["suppression"]["user_id"])
        for table in ("users_clean", "events_clean", "email_clean", "campaigns_clean"):
            frame = as_pandas(expected[table])
            assert not gone & set(frame["user_id"]), table
            assert len(frame) < len(raw[table.removesuffix("_clean")]), table
    return expected, got


def test_cleaning_counts_and_metrics_are_identical(both: tuple[dict, dict]) -> None:
    expected, got = both
    pd.testing.assert_frame_equal(got["report"], expected["report"])
    assert got["metrics"] == expected["metrics"]
    assert got["split_bounds"] == expected["split_bounds"]


@pytest.mark.parametrize("table", TABLES)
def test_tables_are_identical(both: tuple[dict, dict], table: str) -> None:
    expected, got = both  # the fixture checked which tables may be empty
    assert_same_table(table, expected[table], got[table])


def test_ids_are_text_and_features_cover_the_buyers(both: tuple[dict, dict]) -> None:
    _, got = both
    features = as_pandas(got["customer_features_train"])
    lines = as_pandas(got["customer_lines"])
    assert features["user_id"].map(type).eq(str).all()
    assert lines["item_id"].map(type).eq(str).all() and lines["order_id"].map(type).eq(str).all()
    assert not features["user_id"].str.endswith(".0").any()  # float ids became '17850'
    assert features["user_id"].is_unique


def test_contract_errors_name_the_column_in_both_engines(spark: Any) -> None:
    from tailor.schemas import conform_table as conform_pandas
    from tailor.spark.contract import conform_table as conform_spark

    raw = pd.DataFrame(
        {
            "order_id": ["1", "2"],
            "user_id": ["a", None],
            "item_id": ["x", "y"],
            "quantity": ["2", "lots"],
            "unit_price": [1.0, 2.0],
            "ts": ["2024-01-01 10:00:00", "2024-01-02"],
            "country": ["UK", "UK"],
        }
    )
    for conform in (conform_pandas, conform_spark):
        data = raw if conform is conform_pandas else spark.createDataFrame(raw)
        with pytest.raises(
            DataContractError, match=r"table 'transactions', column 'quantity'.*lots"
        ):
            conform(data, "transactions")
    events = pd.DataFrame(
        {
            "user_id": ["a"],
            "session_id": ["s"],
            "ts": [pd.Timestamp("2024-01-01")],
            "event_type": ["teleport"],
            "item_id": [None],
        }
    )
    for conform in (conform_pandas, conform_spark):
        schema = "user_id string, session_id string, ts timestamp_ntz, event_type string"
        data = (
            events
            if conform is conform_pandas
            else spark.createDataFrame(events, schema + ", item_id string")
        )
        with pytest.raises(
            DataContractError, match=r"table 'events', column 'event_type'.*teleport"
        ):
            conform(data, "events", optional=True)
    missing = spark.createDataFrame(raw.drop(columns=["ts"]))
    with pytest.raises(DataContractError, match=r"column 'ts'.*required column is missing"):
        conform_spark(missing, "transactions")


def test_data_end_keeps_the_same_rows_in_both_engines(spark: Any) -> None:
    """``data_engineering.data_end`` drops the same dated rows (lines, events, email)."""
    from tailor.pipelines.data_engineering.nodes import EVENT_TIME
    from tailor.spark import nodes as spark_nodes

    raw = synthetic_world(n_users=40)
    end = "2023-09-15 12:00"
    none = pd.DataFrame()
    names = ("transactions", "users", "events", "email", "items", "suppression")

    def validated(tables: dict[str, Any], nodes: Any) -> dict[str, Any]:
        out = nodes.validate_raw_tables(
            *(tables[n] for n in names), none, none, none, PARAMS["sources"], end
        )
        return {"transactions": out[0], "events": out[2], "email": out[3]}

    expected = validated({k: v.copy() for k, v in raw.items()}, pd_nodes)
    got = validated({k: spark.createDataFrame(v) for k, v in raw.items()}, spark_nodes)
    for name, table in expected.items():
        col = EVENT_TIME[name]
        assert table[col].max() <= pd.Timestamp(end) < raw[name][col].max(), name
        assert_same_table(name, table, got[name])
