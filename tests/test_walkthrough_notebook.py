"""The walkthrough notebook runs top to bottom against the Kedro catalog (nbclient)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT, make_project_copy

NOTEBOOK = ROOT / "notebooks" / "walkthrough.ipynb"


def execute(project: Path, env: str | None, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the notebook in ``project`` (kernel inherits the environment); return its text."""
    target = project / "notebooks"
    target.mkdir(exist_ok=True)
    shutil.copy(NOTEBOOK, target / NOTEBOOK.name)
    monkeypatch.setenv("TAILOR_PROJECT", str(project))
    if env:
        monkeypatch.setenv("TAILOR_ENV", env)
    else:
        monkeypatch.delenv("TAILOR_ENV", raising=False)
    for var in ("KEDRO_DISABLE_TELEMETRY", "DO_NOT_TRACK", "BENTOML_DO_NOT_TRACK"):
        monkeypatch.setenv(var, "1")
    nb = nbformat.read(target / NOTEBOOK.name, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(target)}}
    ).execute()
    assert not (target / "mlflow.db").exists(), "the notebook must not write into notebooks/"
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                texts.append(out.text)
            elif "text/plain" in out.get("data", {}):
                texts.append(out.data["text/plain"])
    return "\n".join(texts)


def _skipped(text: str) -> str:
    return next(line for line in text.splitlines() if "sections skipped" in line)


@pytest.mark.e2e
def test_notebook_skips_every_section_cleanly_without_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project_copy(tmp_path / "empty_project")
    text = execute(project, "synthetic", monkeypatch)
    assert "environment synthetic" in text
    summary = _skipped(text)
    for name in ("interactions_train", "customer_segments_train", "evaluation_table"):
        assert name in summary
    assert "[skipped] dataset 'evaluation_table' is not available yet" in text


@pytest.mark.e2e
def test_notebook_shows_what_the_synthetic_run_produced(
    synthetic_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = execute(synthetic_project, "synthetic", monkeypatch)
    data = synthetic_project / "data" / "synthetic"
    train = pd.read_parquet(data / "05_model_input" / "interactions_train.parquet")
    # section 1 reads the real split
    assert f"train: {len(train):,} lines, {train.user_id.nunique():,} customers" in text
    assert "customer " in text  # a profile was shown
    summary = _skipped(text)
    for name in ("interactions_train", "item_catalog", "customer_features_train"):
        assert name not in summary
    # a section is skipped exactly when its dataset has not been written
    for name, path in {
        "customer_segments_train": data / "07_model_output" / "customer_segments_train.parquet",
        "recommendations_test": data / "07_model_output" / "recommendations_test.parquet",
        "evaluation_table": data / "08_reporting" / "evaluation.csv",
    }.items():
        assert (f"'{name}'" in summary) != path.exists(), name
    if (data / "08_reporting" / "evaluation.csv").exists():
        table = pd.read_csv(data / "08_reporting" / "evaluation.csv")
        assert "served" in text and f"{table['n_users'].max()}" in text
