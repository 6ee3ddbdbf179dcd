"""The suppression list file that the next ``data_engineering`` run honours.

``/forget`` appends the user here (plain id: the pipeline must match it) while the profile
store keeps only a hash. Appends take an exclusive file lock: several workers may forget
at once.
"""

from __future__ import annotations

import csv
import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_PATH = "data/01_raw/suppression_list.csv"


def path() -> Path:
    return Path(os.environ.get("TAILOR_SUPPRESSION_LIST", DEFAULT_PATH))


def append(user_id: str, target: Path | None = None) -> Path:
    target = target or path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a+", newline="") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        present = {row.get("user_id") for row in csv.DictReader(fh)}
        if user_id not in present:
            writer = csv.writer(fh)
            if fh.tell() == 0:
                writer.writerow(["user_id", "forgotten_at"])
            writer.writerow([user_id, datetime.now(UTC).isoformat(timespec="seconds")])
            fh.flush()
            os.fsync(fh.fileno())
    return target
