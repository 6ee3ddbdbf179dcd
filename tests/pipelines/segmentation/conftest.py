"""Segmentation test helpers: the shipped parameters, read as the pipeline reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def seg_params() -> dict[str, Any]:
    text = (ROOT / "conf" / "base" / "parameters_segmentation.yml").read_text()
    return yaml.safe_load(text)["segmentation"]
