"""Write one benchmark's table into its own section of bench/RESULTS.md.

Each benchmark owns a section between ``<!-- BEGIN name -->`` and ``<!-- END name -->``;
rewriting it under a file lock leaves the other sections untouched.
"""

from __future__ import annotations

import fcntl
import platform
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = (
    "# Benchmark results\n\nEach section is rewritten by its script in `bench/`; the baseline of\n"
    "each table is measured in the same run. Machine: 2 cores, shared and noisy: medians and\n"
    "ratios.\n"
)


def machine() -> str:
    try:
        cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        cpu = "?"
    return f"{platform.python_implementation()} {platform.python_version()}, {cpu} cores"


def write_section(name: str, title: str, body: str, command: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"<!-- BEGIN {name} -->\n## {title}\n\n`{command}` — {stamp}, {machine()}\n\n"
        f"{body.strip()}\n<!-- END {name} -->"
    )
    with open(RESULTS.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = RESULTS.read_text() if RESULTS.exists() else HEADER
        pattern = re.compile(
            rf"<!-- BEGIN {re.escape(name)} -->.*?<!-- END {re.escape(name)} -->", re.S
        )
        text = (
            pattern.sub(lambda _: section, text)
            if pattern.search(text)
            else f"{text.rstrip()}\n\n{section}\n"
        )
        RESULTS.write_text(text)


def markdown_table(rows: list[dict[str, object]]) -> str:
    if not rows:
        return "(no rows)"
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(out)
