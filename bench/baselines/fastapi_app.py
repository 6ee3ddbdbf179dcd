"""Bare FastAPI/uvicorn baseline: ``uvicorn bench.baselines.fastapi_app:app``."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel, Field

from bench.baselines.scoring import top_k

app = FastAPI()


class Req(BaseModel):
    user_id: str
    k: int = Field(10, ge=1, le=100)


@app.post("/recommend")
def recommend(req: Req) -> dict[str, object]:
    return {"user_id": req.user_id, "items": top_k(req.user_id, req.k)}
