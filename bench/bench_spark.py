"""Data engineering: pandas vs Spark local[2] on synthetic worlds (`python bench/bench_spark.py`).

For each size, the synthetic world is generated once (``--env synthetic``, which caches the
raw tables as Parquet); then the pandas pipeline reruns on the cached tables (baseline,
same run), and ``kedro run --env spark`` runs on the same Parquet files through a bench
environment (conf/spark + the synthetic parameters, raw tables read by Spark, local[2]).
Peak memory is the peak summed RSS of the run's process tree (Python driver + the JVM),
sampled every 0.2 s. Both runs check they wrote the same cleaning report.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_data_engineering import pipeline_seconds  # noqa: E402
from bench.results import markdown_table, write_section  # noqa: E402
from tests.conftest import ENV, KEDRO, make_project_copy  # noqa: E402

SPARK_CONF = {
    "spark.master": "local[2]",
    "spark.driver.memory": "3g",
    "spark.sql.shuffle.partitions": "16",
    "spark.ui.enabled": False,
    "spark.sql.adaptive.enabled": True,
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        tree = [proc, *proc.children(recursive=True)]
    except psutil.Error:  # the run has just ended
        return 0
    for p in tree:
        with contextlib.suppress(psutil.Error):  # a child may exit while we look
            total += p.memory_info().rss
    return total


def measure(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, peak process-tree RSS in MiB, and the output of one run."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=out, stderr=subprocess.STDOUT)
        proc, peak, done = psutil.Process(child.pid), [0], threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss(proc))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = child.wait()
        done.set()
        sampler.join()
        wall = time.perf_counter() - start
        out.seek(0)
        text = out.read()
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{text[-4000:]}")
    return wall, peak[0] / 2**20, text


def spark_env(project: Path, raw_dir: Path, data_dir: str) -> str:
    """conf/bench_spark: the spark environment on the cached synthetic Parquet tables."""
    env = project / "conf" / "bench_spark"
    shutil.rmtree(env, ignore_errors=True)
    shutil.copytree(project / "conf" / "spark", env)
    for f in (project / "conf" / "synthetic").glob("parameters*.yml"):
        shutil.copy(f, env / f.name)
    (env / "spark.yml").write_text(yaml.safe_dump(SPARK_CONF))
    (env / "globals.yml").write_text(yaml.safe_dump({"data_dir": data_dir}))
    catalog = yaml.safe_load((env / "catalog.yml").read_text())
    for table in ("transactions", "users", "events", "email", "items"):
        catalog[f"raw_{table}"] = {
            "type": "spark.SparkDatasetV2",
            "file_format": "parquet",
            "filepath": str(raw_dir / f"{table}.parquet"),
        }
    catalog["suppression_list"] = {
        "type": "tailor.datasets.OptionalTableDataset",
        "filepath": "data/01_raw/synthetic/suppression_list.csv",
    }
    (env / "catalog.yml").write_text(yaml.safe_dump(catalog, sort_keys=False))
    return "bench_spark"


def kedro_de(project: Path, *args: str) -> tuple[float, float, float]:
    wall, rss, log = measure([str(KEDRO), "run", "--pipeline", "data_engineering", *args], project)
    return wall, pipeline_seconds(log), rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, nargs="+", default=[6_600, 33_000],
                        help="synthetic users per world (~300 events each)")  # fmt: skip
    args = parser.parse_args()
    rows = []
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        project = make_project_copy(Path(tmp) / "p")
        for users in args.users:
            syn = ["--env", "synthetic", "--params", f"synthetic_users={users}"]
            kedro_de(project, *syn)  # generates and caches the world (not timed)
            raw_dir = max((project / "data/01_raw/synthetic").glob("*[!p]"),
                          key=lambda p: p.stat().st_mtime)  # fmt: skip
            events = len(pd.read_parquet(raw_dir / "events.parquet", columns=["user_id"]))
            lines = len(pd.read_parquet(raw_dir / "transactions.parquet", columns=["order_id"]))
            p_wall, p_sec, p_rss = kedro_de(project, *syn)
            pandas_report = pd.read_csv(project / "data/synthetic/08_reporting/cleaning_report.csv")
            env = spark_env(project, raw_dir, f"data/bench_spark_{users}")
            s_wall, s_sec, s_rss = kedro_de(project, "--env", env)
            spark_report = pd.read_csv(
                project / f"data/bench_spark_{users}/08_reporting/cleaning_report.csv"
            )
            same = spark_report.equals(pandas_report)
            for engine, wall, sec, rss in (
                ("pandas (1 process)", p_wall, p_sec, p_rss),
                ("Spark local[2]", s_wall, s_sec, s_rss),
            ):
                rows.append(
                    {
                        "events": f"{events:,}",
                        "transaction lines": f"{lines:,}",
                        "engine": engine,
                        "kedro run wall s": f"{wall:.0f}",
                        "pipeline s": f"{sec:.0f}",
                        "peak RSS MiB (driver tree)": f"{rss:,.0f}",
                        "Spark / pandas time": f"{sec / p_sec:.2f}x",
                        "same cleaning report": "yes" if same else "NO",
                    }
                )
            shutil.rmtree(project / f"data/bench_spark_{users}", ignore_errors=True)
            shutil.rmtree(raw_dir, ignore_errors=True)
            write(rows, args.users)  # after each size: a long run keeps what it measured


def write(rows: list[dict[str, str]], users: list[int]) -> None:
    body = (
        markdown_table(rows)
        + "\n\nOne run per cell (each is minutes long on a shared 2-core machine); the pandas "
        "row is the baseline of the same run, on the same cached raw Parquet. Spark: "
        "`local[2]`, `spark.driver.memory` 3g, 16 shuffle partitions; its RSS is the Python "
        "driver plus the JVM. 'pipeline s' is Kedro's own measure of the node run (JVM start "
        "is inside it for Spark)."
    )
    write_section(
        "spark", "Data engineering: pandas vs Spark local[2]", body,
        f"python bench/bench_spark.py --users {' '.join(map(str, users))}",
    )  # fmt: skip
    print(body, flush=True)


if __name__ == "__main__":
    main()
