"""Data engineering: pandas vs DuckDB (Ibis) vs Spark local[2] on synthetic worlds
(`python bench/bench_spark.py`).

For each size, a synthetic world (the synthetic environment's generator settings, ~300
events per user) is written in chunks of users to Parquet part directories
(``tailor.synthetic.write_chunked``: peak memory of one chunk, so 50M events fit). Then the
data engineering runs on those files once per engine: the pandas reference pipeline
(baseline, same run: ``data_engineering_pandas``, raw tables read by
``pandas.ParquetDataset``), the Ibis pipeline on embedded DuckDB (``data_engineering``, raw
tables read in place by ``ibis.FileDataset``) and the same Ibis pipeline on Ibis's PySpark
backend (``kedro run --env`` of conf/spark, ``local[2]``, raw tables read by Spark).

Peak memory is the peak summed RSS of the run's process tree (Python driver + the JVM and
its Python workers), sampled every 0.1 s. A run whose tree passes ``--memory-cap-gib`` is
stopped and reported as out of memory at the cap (its kernel OOM score is raised too, so
if memory ran out anyway the kernel would end it, not other work on the machine); a run
past ``--timeout-min`` is stopped and reported as such. Every engine must write the
pandas engine's cleaning report.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    "spark.sql.shuffle.partitions": "4",  # 2x the cores (16 measured ~10 % slower)
    "spark.ui.enabled": False,
    "spark.ui.showConsoleProgress": False,
    "spark.sql.adaptive.enabled": True,
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}
RAW_TABLES = ("transactions", "users", "events", "email", "items")
# The embedded DuckDB of the Ibis engine: bounded memory (it spills to disk beyond it).
DUCKDB = {"backend": "duckdb", "database": ":memory:", "memory_limit": "1GB"}
PIPELINE = {"pandas": "data_engineering_pandas", "duckdb": "data_engineering"}
LABEL = {
    "pandas": "pandas (1 process)",
    "duckdb": "Ibis on DuckDB",
    "spark": "Ibis on Spark local[2]",
}
GENERATE = """
import json, sys, yaml
from tailor.synthetic import write_chunked
cfg = yaml.safe_load(open(sys.argv[1]))["_generator"]
cfg.update(seed=7, n_users=int(sys.argv[3]), drift={"enabled": False, "start_fraction": 0.75})
print(json.dumps(write_chunked(cfg, sys.argv[2], int(sys.argv[4]))))
"""


@dataclass
class Run:
    wall: float
    peak_mib: float
    log: str
    outcome: str = "ok"  # ok, failed, memory cap, timeout
    load: list[float] = field(default_factory=list)  # 1-min load averages seen
    nodes: list[tuple[str, float]] = field(default_factory=list)  # (node, seconds)


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


def _first_to_die() -> None:
    """In the child: if the machine runs out of memory, the kernel ends this run first."""
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")


def measure(cmd: list[str], cwd: Path, cap_mib: float, timeout_s: float) -> Run:
    """Wall seconds, peak process-tree RSS, output and outcome of one run."""
    start = time.perf_counter()
    child = subprocess.Popen(
        cmd, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=_first_to_die, start_new_session=True,
    )  # fmt: skip
    proc, run = psutil.Process(child.pid), Run(0.0, 0.0, "")
    done, lines = threading.Event(), []
    last = [start]

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            lines.append(line)
            found = re.search(r"Completed node: (\w+)", line)
            if found:
                now = time.perf_counter()
                run.nodes.append((found.group(1), now - last[0]))
                last[0] = now
            elif "Running node:" in line and not run.nodes:
                last[0] = time.perf_counter()

    def watch() -> None:
        while not done.is_set():
            rss = tree_rss(proc) / 2**20
            run.peak_mib = max(run.peak_mib, rss)
            run.load.append(os.getloadavg()[0])
            over = rss > cap_mib and "memory cap"
            late = time.perf_counter() - start > timeout_s and "timeout"
            if over or late:
                run.outcome = over or late
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, 9)  # the run's own session: driver, JVM, workers
                return
            time.sleep(0.1)

    threads = [threading.Thread(target=f, daemon=True) for f in (read, watch)]
    for t in threads:
        t.start()
    code = child.wait()
    done.set()
    for t in threads:
        t.join()
    run.wall, run.log = time.perf_counter() - start, "".join(lines)
    if code != 0 and run.outcome == "ok":
        run.outcome = "failed"
        print(f"{' '.join(cmd)} failed:\n{run.log[-4000:]}", flush=True)
    return run


def make_env(project: Path, name: str, engine: str, raw_dir: Path, data_dir: str) -> str:
    """conf/<name>: the engine's environment with the synthetic parameters, reading the
    chunked world's Parquet directories."""
    base = "spark" if engine == "spark" else "synthetic"
    env = project / "conf" / name
    shutil.rmtree(env, ignore_errors=True)
    shutil.copytree(project / "conf" / base, env)
    for f in (project / "conf" / "synthetic").glob("parameters*.yml"):
        shutil.copy(f, env / f.name)
    (env / "globals.yml").write_text(yaml.safe_dump({"data_dir": data_dir}))
    catalog = yaml.safe_load((env / "catalog.yml").read_text())
    # Spark: read in place by Spark (a directory of parts, in file-name order)
    fmt: dict[str, object] = {
        "type": "ibis.FileDataset",
        "file_format": "parquet",
        "connection": {"backend": "pyspark"},
    }
    parts = ""
    if engine == "pandas":
        fmt = {"type": "pandas.ParquetDataset"}
    elif engine == "duckdb":
        # read in place by DuckDB; file name and row number give the input order
        fmt = {"type": "ibis.FileDataset", "file_format": "parquet", "connection": DUCKDB}
        fmt["load_args"] = {"filename": True, "file_row_number": True}
        parts = "/*.parquet"
    catalog.pop("synthetic_truth", None)
    for table in RAW_TABLES:
        path = str(raw_dir / f"{table}.parquet") + parts
        catalog[f"raw_{table}"] = {**fmt, "filepath": path}
        if engine != "pandas":
            catalog[f"raw_{table}"]["table_name"] = f"raw_{table}"
    catalog["suppression_list"] = {
        "type": "tailor.datasets.OptionalTableDataset",
        "filepath": "data/01_raw/synthetic/suppression_list.csv",
    }
    catalog = {k: v for k, v in catalog.items() if not k.startswith("_")}
    (env / "catalog.yml").write_text(yaml.safe_dump(catalog, sort_keys=False))
    if base == "spark":
        (env / "spark.yml").write_text(yaml.safe_dump(SPARK_CONF))
    return name


def load_text(run: Run) -> str:
    return f"{min(run.load):.1f}-{max(run.load):.1f}" if run.load else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, nargs="+", default=[33_000, 165_000],
                        help="synthetic users per world (~300 events each)")  # fmt: skip
    parser.add_argument("--users-per-chunk", type=int, default=5_000)
    parser.add_argument("--memory-cap-gib", type=float, default=11.0)
    parser.add_argument("--timeout-min", type=float, default=60.0)
    parser.add_argument("--engines", nargs="+", default=["pandas", "duckdb", "spark"])
    parser.add_argument(
        "--pandas-max-users",
        type=int,
        default=40_000,
        help="larger worlds skip pandas (11 GiB is not enough at 50M events)",
    )
    parser.add_argument(
        "--spark-max-users",
        type=int,
        default=40_000,
        help="larger worlds skip Spark (778 s at 50M events last time)",
    )
    parser.add_argument("--start-before", default=None,
                        help="HH:MM UTC: a size not started by then is skipped")  # fmt: skip
    args = parser.parse_args()
    cap, timeout = args.memory_cap_gib * 1024, args.timeout_min * 60
    rows: list[dict[str, str]] = []
    notes: list[str] = []
    import pandas as pd

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        project = make_project_copy(Path(tmp) / "p")
        for users in args.users:
            now = datetime.now(UTC).strftime("%H:%M")
            if args.start_before and now >= args.start_before:
                notes.append(f"{users:,} users: not started ({now} UTC, past {args.start_before}).")
                write(rows, notes, args)
                continue
            world = Path(tmp) / f"world_{users}"
            gen_conf = str(project / "conf/synthetic/catalog.yml")
            gen = measure(
                [sys.executable, "-c", GENERATE, gen_conf, str(world), str(users),
                 str(args.users_per_chunk)],
                project, cap, timeout,
            )  # fmt: skip
            if gen.outcome != "ok":
                raise SystemExit(f"generating {users} users: {gen.outcome}")
            counts = yaml.safe_load(gen.log.strip().splitlines()[-1])
            events, lines = counts["events"], counts["transactions"]
            notes.append(
                f"{events:,} events: written in chunks of {args.users_per_chunk:,} users in "
                f"{gen.wall:.0f} s, peak {gen.peak_mib:,.0f} MiB."
            )
            runs: dict[str, Run] = {}
            reports: dict[str, pd.DataFrame] = {}
            skip = {"pandas": args.pandas_max_users, "spark": args.spark_max_users}
            for engine in args.engines:
                if users > skip.get(engine, users):
                    notes.append(f"{engine} not run at {users:,} users (--{engine}-max-users).")
                    continue
                data_dir = f"data/bench_{engine}_{users}"
                env = make_env(project, f"bench_{engine}", engine, world, data_dir)
                pipeline = PIPELINE.get(engine, "data_engineering")
                cmd = [str(KEDRO), "run", "--pipeline", pipeline, "--env", env]
                runs[engine] = run = measure(cmd, project, cap, timeout)
                report = project / data_dir / "08_reporting/cleaning_report.csv"
                if run.outcome == "ok":
                    reports[engine] = pd.read_csv(report)
                slow = sorted(run.nodes, key=lambda n: -n[1])[:4]
                print(f"{engine} {events:,} events: {run.outcome}, {run.wall:.0f} s, "
                      f"{run.peak_mib:,.0f} MiB, load {load_text(run)}; slowest nodes: "
                      + ", ".join(f"{n} {s:.0f} s" for n, s in slow), flush=True)  # fmt: skip
                shutil.rmtree(project / data_dir, ignore_errors=True)
            base_sec = pipeline_seconds(runs["pandas"].log) if "pandas" in reports else None
            for engine, run in runs.items():
                sec = pipeline_seconds(run.log) if run.outcome == "ok" else None
                stopped = {
                    "memory cap": f"stopped at the {args.memory_cap_gib:g} GiB cap",
                    "timeout": f"stopped at {args.timeout_min:g} min",
                    "failed": "failed",
                }.get(run.outcome, "")
                ratio = f"{sec / base_sec:.2f}x" if sec and base_sec else "n/a"
                same = "n/a"
                if engine in reports and "pandas" in reports and engine != "pandas":
                    same = "yes" if reports[engine].equals(reports["pandas"]) else "NO"
                rows.append(
                    {
                        "events": f"{events:,}",
                        "transaction lines": f"{lines:,}",
                        "engine": LABEL[engine],
                        "kedro run wall s": stopped or f"{run.wall:.0f}",
                        "pipeline s": f"{sec:.0f}" if sec else (f"({run.wall:.0f} s run)"),
                        "peak RSS MiB (process tree)": f"{run.peak_mib:,.0f}",
                        "time / pandas": "1.00x" if engine == "pandas" and sec else ratio,
                        "load avg (1 min) during run": load_text(run),
                        "same cleaning report as pandas": same,
                    }
                )
            shutil.rmtree(world, ignore_errors=True)
            write(rows, notes, args)  # after each size: a long run keeps what it measured


def write(rows: list[dict[str, str]], notes: list[str], args: argparse.Namespace) -> None:
    body = (
        markdown_table(rows)
        + "\n\nOne run per cell (each is minutes long). The machine has 2 cores shared with "
        "other agents' work: the load column is the 1-minute load average sampled during "
        "the run (2.0 = both cores busy), so absolute times move with it; the pandas row is "
        "the baseline of the same run, on the same raw Parquet parts. DuckDB: embedded, "
        f"`memory_limit` {DUCKDB['memory_limit']} (it spills beyond), both cores; its RSS is "
        "the one Kedro process. Spark: `local[2]`, "
        "`spark.driver.memory` 3g, 4 shuffle partitions; its RSS is the Python driver plus "
        "the JVM and its Python workers. 'pipeline s' is Kedro's own measure of the node run "
        f"(JVM start is inside it for Spark). Memory cap per run: {args.memory_cap_gib:g} GiB "
        "of process-tree RSS (the run is stopped there).\n\nWorlds: " + " ".join(notes)
    )
    # A run of other engines than the paired pandas/Spark sweep gets its own section: it
    # must not overwrite the sweep in `spark`.
    engines = sorted(args.engines)
    paired = engines == ["pandas", "spark"]
    name = "spark" if paired else f"spark-{'-'.join(map(str, args.users))}-{'-'.join(engines)}"
    command = (
        f"python bench/bench_spark.py --users {' '.join(map(str, args.users))} "
        f"--memory-cap-gib {args.memory_cap_gib:g}"
    )
    if not paired:
        command += f" --engines {' '.join(engines)}"
    title = "Data engineering: " + " vs ".join(LABEL[e] for e in engines)
    if paired:
        title = "Data engineering: pandas vs Ibis on Spark local[2]"
    write_section(name, title, body, command)
    print(body, flush=True)


if __name__ == "__main__":
    main()
