"""Signed request ids: made, verified, and refused when forged, altered, reused or expired."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tailor.serving.request_ids import NotFound, RequestIds, attribution

IDS = RequestIds(b"k" * 32, max_age_s=3600)


def test_an_issued_id_verifies_for_its_user_only() -> None:
    rid = IDS.make("Zoë", "content", "High-Value Loyalists", now=1_000_000)
    assert IDS.verify(rid, "Zoë", now=1_000_010) == ("content", "High_Value_Loyalists")
    assert attribution(rid) == ("content", "High_Value_Loyalists")
    with pytest.raises(NotFound, match="request_id"):
        IDS.verify(rid, "Zoe", now=1_000_010)


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.replace(".content.", ".model."),
        lambda r: r.replace(".High_Value_Loyalists.", ".Invented.", 1),
        lambda r: r[:-3] + "AAA",
        lambda r: "rzzzzzzzz" + r[9:],
        lambda r: r.split(".", 1)[1],
    ],
)
def test_altered_ids_are_refused(change: Callable[[str], str]) -> None:
    rid = IDS.make("u1", "content", "High-Value Loyalists", now=1_000_000)
    with pytest.raises(NotFound, match="request_id"):
        IDS.verify(change(rid), "u1", now=1_000_010)


def test_ids_expire_and_another_secret_does_not_verify() -> None:
    rid = IDS.make("u1", "model", "new", now=1_000_000)
    with pytest.raises(NotFound, match="expired"):
        IDS.verify(rid, "u1", now=1_000_000 + 3601)
    with pytest.raises(NotFound, match="not issued"):
        RequestIds(b"x" * 32, 3600).verify(rid, "u1", now=1_000_010)
