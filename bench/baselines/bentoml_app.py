"""Minimal BentoML baseline (sync endpoint, one worker, defaults otherwise):
``bentoml serve bench.baselines.bentoml_app:Minimal``."""

from __future__ import annotations

import bentoml

from bench.baselines.scoring import top_k


@bentoml.service(workers=1)
class Minimal:
    @bentoml.api(route="/recommend")
    def recommend(self, user_id: str, k: int = 10) -> dict[str, object]:
        return {"user_id": user_id, "items": top_k(user_id, k)}
