"""The profile store's one small interface: live events, bandit counts, feedback, suppression.

Two backends implement it (SQLite, Redis) and pass the same test suite. The store never
keeps a forgotten user's id: the suppression set holds a salted hash only, while the
plain id goes to the suppression list file that the next training run reads.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass

FEEDBACK_EVENTS = ("impression", "click", "conversion")


def user_hash(user_id: str) -> str:
    """Stable, non-reversible stand-in for a user id (suppression set, request ids)."""
    return hashlib.sha256(f"tailor:{user_id}".encode()).hexdigest()


@dataclass(frozen=True)
class Event:
    user_id: str
    ts: float
    event_type: str
    item_id: str | None = None
    session_id: str | None = None
    duration_s: float | None = None
    request_id: str | None = None
    known_item: bool = True

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Feedback:
    user_id: str
    request_id: str
    strategy: str
    segment: str
    event: str
    ts: float


class ProfileStore(ABC):
    """Durable per-user live state; every write is acknowledged only once it is persisted."""

    @abstractmethod
    def add_event(self, event: Event) -> None:
        """Append one event to the user's live profile (durable before returning)."""

    @abstractmethod
    def recent_events(self, user_id: str, limit: int) -> list[Event]:
        """The user's newest ``limit`` events, oldest first."""

    @abstractmethod
    def add_feedback(self, feedback: Feedback) -> None:
        """Log the feedback for the user and count it for (segment, strategy)."""

    @abstractmethod
    def bandit_counts(self, segment: str) -> dict[str, dict[str, int]]:
        """``{strategy: {impression, click, conversion}}`` for one segment."""

    @abstractmethod
    def all_bandit_counts(self) -> dict[tuple[str, str], dict[str, int]]:
        """``{(segment, strategy): counts}`` for every pair seen."""

    @abstractmethod
    def iter_events(self) -> Iterator[Event]:
        """Every stored event (for /stats)."""

    @abstractmethod
    def iter_feedback(self) -> Iterator[Feedback]:
        """Every stored feedback record (for /stats)."""

    @abstractmethod
    def incr(self, counter: str, by: int = 1) -> None:
        """Add to a named service counter (e.g. unknown item ids seen in events)."""

    @abstractmethod
    def counters(self) -> dict[str, int]: ...

    @abstractmethod
    def forget(self, user_id: str) -> int:
        """Delete the user's events and feedback, mark the hash suppressed; rows/keys removed."""

    @abstractmethod
    def is_suppressed(self, user_id: str) -> bool: ...

    @abstractmethod
    def close(self) -> None: ...
