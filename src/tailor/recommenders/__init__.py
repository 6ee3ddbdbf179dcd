"""Recommender candidates with one interface: ``fit(interactions, items, users)`` then
``recommend(user_ids, k, exclude)`` (see ``base.Recommender``)."""

from __future__ import annotations

from tailor.recommenders.base import Recommender
from tailor.recommenders.registry import CANDIDATES, make_candidate

__all__ = ["CANDIDATES", "Recommender", "make_candidate"]
