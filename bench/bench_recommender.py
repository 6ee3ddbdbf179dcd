"""Recommender benchmarks: the whole pipeline on a data set, and every family at 100k items.

`python bench/bench_recommender.py pipeline [--env ENV]`: one real `kedro run --pipeline
recommender` (data_engineering and segmentation outputs must exist) with a fresh Optuna
storage, so the tuning budget is spent from scratch. Reports wall time and peak memory of
the run, and every candidate's validation (mean and per window) and test NDCG@10 next to
the untuned popularity baseline of the same run.

`python bench/bench_recommender.py scale [--items 100000]`: a synthetic shop with a
100k-item catalog (Zipf popularity, 1M lines); each family (start parameters of
conf/base) is fitted and asked for top-20 of 2,000 users in its own process, so each peak
RSS is that family's alone; the popularity baseline is measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import markdown_table, write_section  # noqa: E402
from tests.conftest import ENV, KEDRO  # noqa: E402

FAMILIES = ["popularity", "ease", "als", "item_knn", "content", "lightfm"]


def child_peak_mib() -> float:
    """Largest resident set of any finished child process so far (Linux: KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def data_dir(env: str) -> str:
    """The env's ``data_dir`` (conf/<env>/globals.yml), else base's: online_retail, the
    default data, writes into data/ like base."""
    for name in (env, "base"):
        path = ROOT / "conf" / name / "globals.yml"
        if path.exists():
            value = yaml.safe_load(path.read_text()).get("data_dir")
            if value:
                return str(value)
    return "data"


def pipeline(env: str) -> None:
    with tempfile.TemporaryDirectory() as storage:
        cmd = [str(KEDRO), "run", "--env", env, "--pipeline", "recommender", "--params",
               f"recommender.tuning.storage_dir={storage}"]  # fmt: skip
        node_times = Path(storage) / "node_times.jsonl"
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env={**ENV, "TAILOR_NODE_TIMES": str(node_times)},
                              capture_output=True, text=True)  # fmt: skip
        wall = time.perf_counter() - start
        times = (
            [json.loads(line) for line in node_times.read_text().splitlines()]
            if node_times.exists()
            else []
        )
    if proc.returncode != 0:
        sys.exit(f"kedro run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    peak = child_peak_mib()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    data = ROOT / data_dir(env)
    results = pd.read_csv(data / "08_reporting/recommender_results.csv")
    served_info = json.loads((data / "08_reporting/recommender_served.json").read_text())
    by = results.set_index("candidate")
    pop = float(by.loc["popularity", "test_ndcg_at_10"])
    rows, nb_rows = [], []
    served = served_info["candidate"]
    records = results.to_dict("records")
    nb_by = {r["candidate"]: r for r in records if not pd.isna(r.get("test_nb_ndcg_at_10"))}
    refs = [n for n in ("popularity", "ptopfreq_default", "ptopfreq", "tifu_knn_default",
                        "tifu_knn") if n in nb_by]  # fmt: skip
    ref = max(refs, key=lambda n: nb_by[n]["test_nb_ndcg_at_10"]) if refs else None
    for r in records:
        mark = f"**{r['candidate']}** (served)" if r["candidate"] == served else r["candidate"]
        if not pd.isna(r.get("test_ndcg_at_10")):
            windows = [r[c] for c in sorted(r) if c.startswith("val_w") and not pd.isna(r[c])]
            rows.append(
                {
                    "candidate": mark,
                    "fit s (train)": f"{r['fit_seconds']:.1f}",
                    "val NDCG@10 mean": "" if pd.isna(r.get("val_ndcg_at_10")) else
                    f"{r['val_ndcg_at_10']:.4f}",
                    "per window": ", ".join(f"{w:.4f}" for w in windows),
                    "test NDCG@10": f"{r['test_ndcg_at_10']:.4f}",
                    "vs popularity": f"{r['test_ndcg_at_10'] / pop:.2f}x",
                    "coverage@10 (rankable / all)":
                    f"{r['test_coverage_rankable_at_10']:.3f} / {r['test_coverage_at_10']:.3f}",
                }
            )  # fmt: skip
        if r["candidate"] in nb_by and ref is not None:
            windows = [r[c] for c in sorted(r) if c.startswith("val_nb_w") and not pd.isna(r[c])]
            best = nb_by[ref]["test_nb_ndcg_at_10"]
            nb_rows.append(
                {
                    "candidate": mark,
                    "val nb NDCG@10 mean": "" if pd.isna(r.get("val_nb_ndcg_at_10")) else
                    f"{r['val_nb_ndcg_at_10']:.4f}",
                    "per window": ", ".join(f"{w:.4f}" for w in windows),
                    "test nb NDCG@10": f"{r['test_nb_ndcg_at_10']:.4f}",
                    f"vs {ref}": f"{r['test_nb_ndcg_at_10'] / best:.2f}x",
                    "repeat / explore part": f"{r['test_nb_ndcg_repeat_at_10']:.4f} / "
                    f"{r['test_nb_ndcg_explore_at_10']:.4f}",
                    "repeat share of list": f"{r['test_nb_repeat_share_list_at_10']:.2f}",
                }
            )  # fmt: skip
    sel = served_info["selection"]
    body = (
        f"Whole recommender pipeline (windows, Optuna studies of 6 discovery + 3 repeat-aware "
        f"families + blend, untuned baselines, next-basket mixes, refit, scoring, bundle, "
        f"registry): **{wall / 60:.1f} min** wall on the shared "
        f"machine, **{cpu / 60:.1f} min CPU** (what a quiet core takes), peak RSS "
        f"**{peak:,.0f} MiB**. Served ({served_info.get('protocol', 'discovery')} protocol): "
        f"`{served}` ({'popularity fallback: ' if sel['fallback'] else ''}{sel['reason']}); "
        f"{served_info['n_items']:,} rankable of {served_info['n_items_all']:,} items sold by "
        f"the cutoff; {int(results['test_n_users'].dropna().iloc[0]):,} test users. The "
        "`served` row is the served list (a mix: its discovery numbers are its explore part's)."
        "\n\nDiscovery protocol (new items only):\n\n" + markdown_table(rows)
    )
    if nb_rows:
        body += (
            "\n\nNext-basket protocol (every item bought in the test window, repeats included; "
            f"reference: `{ref}`, the best of popularity, P-TopFreq and TIFU-KNN on test):\n\n"
            + markdown_table(nb_rows)
        )
    # online_retail differs from base only outside the recommender: the same section
    default = env in ("base", "online_retail")
    name = "recommender" if default else f"recommender-{env}"
    title = f"default data, `--env {env}`" if default else f"`--env {env}`"
    if times:
        body += (
            "\n\nWhere the time goes (nodes above 1 s CPU, `TAILOR_NODE_TIMES` of "
            "`tailor.hooks.NodeTimeHooks`):\n\n"
            + markdown_table(
                [
                    {"node": t["node"], "CPU s": f"{t['cpu']:.1f}", "wall s": f"{t['wall']:.1f}"}
                    for t in sorted(times, key=lambda t: -t["cpu"])
                    if t["cpu"] >= 1.0
                ]
            )
        )
    write_section(name, f"Recommender pipeline ({title})", body,
                  f"python bench/bench_recommender.py pipeline --env {env}")  # fmt: skip
    print(body)


def scale_world(n_items: int, n_users: int, n_lines: int, seed: int) -> tuple[Path, Path]:
    """Zipf item popularity (most items have a handful of buyers, as in real catalogs)."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_items + 1) ** 0.9
    p /= p.sum()
    n_orders = n_lines // 8
    order_user = rng.integers(0, n_users, n_orders)
    order_ts = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.uniform(0, 365, n_orders), unit="D")
    order = rng.integers(0, n_orders, n_lines)
    item = rng.choice(n_items, size=n_lines, p=p)
    lines = pd.DataFrame(
        {
            "user_id": pd.Series(order_user[order]).map("u{:06d}".format),
            "item_id": pd.Series(item).map("i{:06d}".format),
            "order_id": pd.Series(order).map("o{:07d}".format),
            "ts": order_ts[order],
            "quantity": 1,
            "unit_price": 1.0,
            "country": "X",
        }
    ).drop_duplicates(["order_id", "item_id"])
    words = np.array([f"w{i}" for i in range(3000)])
    items = pd.DataFrame(
        {
            "item_id": [f"i{i:06d}" for i in range(n_items)],
            "text": [" ".join(words[rng.integers(0, 3000, 6)]) for _ in range(n_items)],
            "category": rng.integers(0, 200, n_items).astype(str),
            "price": rng.uniform(1, 50, n_items).round(2),
        }
    )
    out = Path(tempfile.mkdtemp(prefix="bench_reco_"))
    lines.to_parquet(out / "lines.parquet")
    items.to_parquet(out / "items.parquet")
    return out / "lines.parquet", out / "items.parquet"


def one_family(family: str, lines_path: str, items_path: str, min_buyers: int) -> None:
    """Child process: fit ``family`` (start params of conf/base) and rank 2,000 users."""
    from omegaconf import OmegaConf

    from tailor.recommenders.registry import make_candidate
    from tailor.recommenders.windows import rankable_items, restrict

    cfg = OmegaConf.to_container(
        OmegaConf.load(ROOT / "conf/base/parameters_recommender.yml"), resolve=False
    )["recommender"]
    fam = cfg["families"][family]
    params = {**fam.get("fixed", {}), **fam.get("start", {})}
    if family == "popularity":
        params = {"scope": "global"}
    lines = pd.read_parquet(lines_path)
    items = rankable_items(pd.read_parquet(items_path), lines, min_buyers)
    lines = restrict(lines, items)
    start, cpu = time.perf_counter(), time.process_time()
    model = make_candidate(family, params, seed=0).fit(lines, items)
    fit, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    users = sorted(lines["user_id"].unique())[:2000]
    start, cpu = time.perf_counter(), time.process_time()
    recs = model.recommend(users, 20)
    rec, rec_cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"fit": fit, "fit_cpu": fit_cpu, "recommend": rec, "recommend_cpu": rec_cpu,
                      "peak": peak, "items": len(items), "rows": len(recs)}))  # fmt: skip


def scale(n_items: int, repeats: int) -> None:
    lines_path, items_path = scale_world(n_items, 20_000, 1_000_000, seed=0)
    lines = pd.read_parquet(lines_path)
    buyers = lines.groupby("item_id")["user_id"].nunique()
    min_buyers = 3
    rows = []
    results: dict[str, dict[str, float]] = {}
    for family in FAMILIES:
        runs = []
        for _ in range(repeats):
            proc = subprocess.run(
                [sys.executable, __file__, "one", family, str(lines_path), str(items_path),
                 str(min_buyers)],
                cwd=ROOT, env=ENV, capture_output=True, text=True,
            )  # fmt: skip
            if proc.returncode != 0:
                sys.exit(f"{family} failed:\n{proc.stderr[-4000:]}")
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        results[family] = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
    base = results["popularity"]
    for family, r in results.items():
        rows.append(
            {
                "family": family + (" (baseline)" if family == "popularity" else ""),
                "rankable items": f"{int(r['items']):,}",
                "fit s wall / CPU": f"{r['fit']:.1f} / {r['fit_cpu']:.1f}",
                "top-20 of 2,000 users s wall / CPU": (
                    f"{r['recommend']:.1f} / {r['recommend_cpu']:.1f}"
                ),
                "peak RSS MiB": f"{r['peak']:,.0f}",
                "peak vs popularity": f"{r['peak'] / base['peak']:.2f}x",
            }
        )
    body = (
        f"Synthetic shop: {n_items:,} catalog items (Zipf 0.9), 20,000 users, "
        f"{len(lines):,} lines; {int(buyers.size):,} items sold, "
        f"{int((buyers >= min_buyers).sum()):,} with >= {min_buyers} buyers "
        f"(`min_item_buyers`, the rankable catalog). Each family with its `start` parameters "
        f"of conf/base, in its own process (peak RSS includes the interpreter and the data, "
        f"~the popularity row); median of {repeats}. CPU seconds are the load-independent "
        f"figure (the machine is shared; every fit runs on one thread). A dense item x item "
        f"float32 matrix over "
        f"the {n_items:,} items would need {n_items**2 * 4 / 2**30:.0f} GiB; EASE's is capped "
        f"at `max_items` (5,000: 95 MiB), item-kNN keeps top-K neighbours (sparse), content "
        f"scores users against sparse TF-IDF vectors (no item x item matrix).\n\n"
        + markdown_table(rows)
    )
    write_section("recommender-scale", f"Recommender at {n_items:,} items: time and peak "
                  "memory per family", body, "python bench/bench_recommender.py scale")  # fmt: skip
    print(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="cmd")
    p = sub.add_parser("pipeline")
    p.add_argument("--env", default="base")
    s = sub.add_parser("scale")
    s.add_argument("--items", type=int, default=100_000)
    s.add_argument("--repeats", type=int, default=1)
    o = sub.add_parser("one")
    o.add_argument("family")
    o.add_argument("lines")
    o.add_argument("items")
    o.add_argument("min_buyers", type=int)
    args = parser.parse_args()
    if args.cmd == "scale":
        scale(args.items, args.repeats)
    elif args.cmd == "one":
        one_family(args.family, args.lines, args.items, args.min_buyers)
    else:
        pipeline(getattr(args, "env", "base"))


if __name__ == "__main__":
    main()
