"""Registry rule: a new version becomes ``champion`` only if it beats the current champion
on validation NDCG; otherwise it is the ``challenger`` and the reason is returned."""

from __future__ import annotations

import logging
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

log = logging.getLogger(__name__)
SCORE_TAG = "val_ndcg_at_10"


def promote(client: MlflowClient, name: str, version: str, val_score: float) -> dict[str, Any]:
    """Tag ``version`` with its score and move the aliases by the champion/challenger rule."""
    # Compare at the precision stored in the tag, so a rerun with the same score is a tie.
    val_score = round(float(val_score), 6)
    client.set_model_version_tag(name, version, SCORE_TAG, f"{val_score:.6f}")
    try:
        current = client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        current = None
    if current is None or str(current.version) == str(version):
        client.set_registered_model_alias(name, "champion", str(version))
        reason = "no champion yet"
        return {"version": str(version), "alias": "champion", "reason": reason}
    champion_score = float(current.tags.get(SCORE_TAG, "-inf"))
    if val_score > champion_score:
        client.set_registered_model_alias(name, "champion", str(version))
        reason = f"val NDCG@10 {val_score:.4f} > champion v{current.version} {champion_score:.4f}"
        alias = "champion"
    else:
        client.set_registered_model_alias(name, "challenger", str(version))
        reason = (
            f"val NDCG@10 {val_score:.4f} <= champion v{current.version} "
            f"{champion_score:.4f}: stays challenger"
        )
        alias = "challenger"
    log.info("%s v%s -> %s (%s)", name, version, alias, reason)
    return {"version": str(version), "alias": alias, "reason": reason}
