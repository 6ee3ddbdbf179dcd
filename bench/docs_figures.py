"""Figures in README.md and docs/ come from a command: `make docs-figures`
(`python bench/docs_figures.py`).

1. Copies each data set's evaluation report (`data[/<env>]/08_reporting/evaluation.md`,
   written by `kedro run [--env <env>] --pipeline evaluation`) into the
   `evaluation-<env>` section of bench/RESULTS.md, beside the sections the bench scripts
   rewrite (`--check-only` skips this).
2. Checks every throughput, latency and ranking figure in README.md and docs/: a latency
   (`8.5 ms`), a throughput (`1,234 req/s`, `events/s`), a ratio (`0.87x`, `2.33×`) or a
   four-decimal metric (`0.1288`, NDCG and its kin). Its number must appear inside a
   generated section of bench/RESULTS.md (between `<!-- BEGIN name -->` and
   `<!-- END name -->`; each section names the command that rewrote it). A figure no
   section holds is stale or hand-made: it is listed with its file and line, exit 1.
   Code blocks are skipped.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402

# Kedro environment -> its data directory (conf/<env>/globals.yml data_dir).
ENVS = {"online_retail": "data", "complete_journey": "data/complete_journey",
        "synthetic": "data/synthetic"}  # fmt: skip
RESULTS = ROOT / "bench" / "RESULTS.md"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SECTION = re.compile(r"<!-- BEGIN (\S+) -->(.*?)<!-- END \1 -->", re.S)
FIGURE = re.compile(
    r"(?<![\w.])("
    r"\d[\d,]*(?:\.\d+)?\s?ms\b"  # latency
    r"|\d[\d,]*(?:\.\d+)?\s?(?:req/s|requests/s|events/s|lines/s|rows/s)"  # throughput
    r"|\d+(?:\.\d+)?\s?[x×](?![\w-])"  # ratio
    r"|0\.\d{4}\b"  # a four-decimal metric (NDCG, MAP, recall...)
    r")"
)


NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def normal(figure: str) -> str:
    """The figure's number, as a table cell would hold it (``2,746 req/s`` -> ``2746``)."""
    return NUMBER.search(figure).group(0).replace(",", "")  # type: ignore[union-attr]


def generated_figures(text: str) -> set[str]:
    """Every number inside a generated section of ``text`` (table cells carry the unit
    in their column header)."""
    return {
        m.group(0).replace(",", "") for _, body in SECTION.findall(text)
        for m in NUMBER.finditer(body)
    }  # fmt: skip


def stray_figures(path: Path, known: set[str]) -> list[tuple[int, str]]:
    """(line, figure) of each figure in ``path`` that no generated section holds."""
    out, fenced = [], False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        out += [
            (number, m.group(1)) for m in FIGURE.finditer(line) if normal(m.group(1)) not in known
        ]
    return out


def copy_reports() -> None:
    """Each data set's evaluation report into its bench/RESULTS.md section."""
    for env, data in ENVS.items():
        report = ROOT / data / "08_reporting" / "evaluation.md"
        if not report.exists():
            print(f"{env}: no {report.relative_to(ROOT)} (run the evaluation pipeline first)")
            continue
        body = report.read_text().replace("<!--", "<!- -")  # never a section marker
        command = f"kedro run --env {env} --pipeline evaluation; python bench/docs_figures.py"
        write_section(f"evaluation-{env}", f"Evaluation report ({env})", body, command)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check-only", action="store_true", help="do not copy the reports")
    if not ap.parse_args().check_only:
        copy_reports()
    known = generated_figures(RESULTS.read_text())
    bad = [(path, n, f) for path in DOCS for n, f in stray_figures(path, known)]
    for path, n, figure in bad:
        print(f"{path.relative_to(ROOT)}:{n}: {figure} is in no generated section")
    print(f"{len(bad)} figure(s) without a generating command", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
