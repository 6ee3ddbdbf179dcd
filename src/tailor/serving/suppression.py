"""The suppression list: one CSV file shared by the service and the pipelines.

``/forget`` appends the plain id here (the pipelines must match it; the profile store
keeps only a hash); ``data_engineering`` drops these users from every table and
the ``serving`` pipeline from every packaged profile. Ids are text: the file is read
with the csv module (and by the catalog with ``dtype: str, keep_default_na: false``), so
``NA``, ``None``, ``00123`` and ``Zoë`` come back exactly as written. Appends take an
exclusive file lock (several workers may forget at once) and are fsynced before ``/forget``
answers. Readers keep the ids in memory and re-read only when the file changes.
"""

from __future__ import annotations

import csv
import fcntl
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_PATH = "data/01_raw/suppression_list.csv"
HEADER = ["user_id", "forgotten_at"]


def path() -> Path:
    return Path(os.environ.get("TAILOR_SUPPRESSION_LIST", DEFAULT_PATH))


def read(target: Path) -> set[str]:
    """Every id in the file, as written (no NA parsing, no numbers)."""
    if not target.exists():
        return set()
    with open(target, newline="", encoding="utf-8") as fh:
        return {row["user_id"] for row in csv.DictReader(fh) if row.get("user_id") is not None}


class SuppressionList:
    """The file's ids in memory; ``in`` re-reads it when its size or mtime changed (one
    ``stat`` per check), so a forget in another worker is seen by the next request."""

    def __init__(self, target: Path | None = None) -> None:
        self.path = target or path()
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._ids: set[str] = set()
        self._refresh()

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self._ids = None, set()
            return
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if stamp != self._stamp:
            with self._lock:
                self._ids, self._stamp = read(self.path), stamp

    def __contains__(self, user_id: object) -> bool:
        self._refresh()
        return user_id in self._ids

    def ids(self) -> set[str]:
        self._refresh()
        return set(self._ids)

    def add(self, user_id: str) -> None:
        """Append ``user_id`` (once) and fsync before returning."""
        if user_id in self:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.seek(0, os.SEEK_END)  # another worker may have written since we opened
            writer = csv.writer(fh)
            if fh.tell() == 0:
                writer.writerow(HEADER)
            writer.writerow([user_id, datetime.now(UTC).isoformat(timespec="seconds")])
            fh.flush()
            os.fsync(fh.fileno())
        self._ids.add(user_id)
