"""Derive each family's ``start`` configuration from the validation windows alone.

`python bench/derive_start_configs.py [--env online_retail complete_journey] [--family ease]`

The procedure (docs/recommender.md, "Where the start configurations come from"):
1. For each data set, the pipeline's own validation windows (``validation_windows`` on
   ``interactions_train``: never a test-window row; data_engineering outputs must exist).
2. Neutral settings: every parameter of the family's search space whose choices include 0
   (priors, history decay) at 0; text choices at the first one listed; booleans false;
   other categorical numbers at the middle choice (the lower of two); floats at the
   (geometric, for log spaces) middle of their range, ints at the middle.
3. One coordinate pass in the space's order: each parameter tries every choice (floats and
   ints: low, middle, high) with the others held, and keeps the best; a tie keeps the
   current value.
4. Score = the mean over the data sets of (mean validation NDCG@10 over the windows) /
   (the same for the neutral settings): one start for every shop, no data set dominating
   by its scale.
The derived starts and every step's score go to the ``start-configs-<families>`` section
of bench/RESULTS.md; conf/base/parameters_recommender.yml copies the starts.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import markdown_table, write_section  # noqa: E402
from tailor.recommenders.project_windows import load_windows  # noqa: E402

FAMILIES = ["ease", "item_knn", "als", "lightfm"]
TARGET = "ndcg_at_10"


def neutral(space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The neutral settings of a search space (rule 2 of the module docstring)."""
    out: dict[str, Any] = {}
    for name, spec in space.items():
        kind = spec.get("type", "categorical" if "choices" in spec else "float")
        if kind == "categorical":
            choices = list(spec["choices"])
            if any(isinstance(c, bool) for c in choices):
                out[name] = False
            elif any(isinstance(c, str) for c in choices):
                out[name] = choices[0]
            elif 0 in choices:
                out[name] = choices[choices.index(0)]
            else:
                out[name] = sorted(choices)[(len(choices) - 1) // 2]
        else:
            out[name] = grid(spec, kind)[1]
    return out


def grid(spec: dict[str, Any], kind: str) -> list[Any]:
    """Low, middle and high of a numeric range (geometric middle for log spaces)."""
    low, high = float(spec["low"]), float(spec["high"])
    mid = math.sqrt(low * high) if spec.get("log") else (low + high) / 2
    if kind == "int":
        return [int(low), round(mid), int(high)]
    return [low, float(f"{mid:.3g}"), high]


def candidates(spec: dict[str, Any]) -> list[Any]:
    kind = spec.get("type", "categorical" if "choices" in spec else "float")
    return list(spec["choices"]) if kind == "categorical" else grid(spec, kind)


class Scorer:
    """Mean validation NDCG@10 of one configuration on every data set's windows; fitted
    models are reused while only prior parameters change (EASE's inverse is the cost)."""

    def __init__(self, family: str, worlds: dict[str, tuple[list[Any], dict[str, Any], int]]):
        self.family, self.worlds = family, worlds
        self.caches: dict[str, dict[str, Any]] = {env: {} for env in worlds}
        self.model_key: dict[str, str] = {}

    def __call__(self, params: dict[str, Any]) -> dict[str, float]:
        from tailor.recommenders.registry import split_prior
        from tailor.recommenders.tuning import evaluate_on_windows

        out = {}
        key = json.dumps(split_prior(params)[0], sort_keys=True, default=str)
        for env, (windows, _, seed) in self.worlds.items():
            if self.model_key.get(env) != key:  # one model per window kept: memory
                self.caches[env].clear()
                self.model_key[env] = key
            result = evaluate_on_windows(
                self.family, params, windows, [10], seed, TARGET, self.caches[env]
            )
            out[env] = float(result["val_metrics"][TARGET])
        return out


def derive(family: str, worlds: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    cfg = next(iter(worlds.values()))[1]["families"][family]
    fixed, space = dict(cfg.get("fixed", {})), dict(cfg["space"])
    score = Scorer(family, worlds)
    current = neutral(space)
    base = score({**fixed, **current})
    rows = [{"family": family, "step": "neutral", "value": json.dumps(current), "score": 1.0}]
    rows[0] |= {env: f"{v:.4f}" for env, v in base.items()}

    def relative(values: dict[str, float]) -> float:
        return sum(values[env] / base[env] for env in base) / len(base)

    best = 1.0
    for name, spec in space.items():
        held = current[name]  # its score is ``best`` already
        for value in candidates(spec):
            if value == held:
                continue
            start = time.perf_counter()
            trial = {**current, name: value}
            values = score({**fixed, **trial})
            rel = relative(values)
            row = {"family": family, "step": name, "value": value, "score": f"{rel:.4f}"}
            rows.append(row | {env: f"{v:.4f}" for env, v in values.items()})
            print(f"{family} {name}={value}: {rel:.4f} ({time.perf_counter() - start:.0f}s)")
            if rel > best:
                best, current = rel, trial
        rows.append({"family": family, "step": f"{name} kept", "value": current[name],
                     "score": f"{best:.4f}"})  # fmt: skip
    return current, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", nargs="+", default=["online_retail", "complete_journey"])
    ap.add_argument("--family", nargs="+", default=FAMILIES)
    args = ap.parse_args()
    worlds = {env: load_windows(ROOT, env) for env in args.env}
    for env, (windows, _, _) in worlds.items():
        print(env, [w.label for w in windows])
    starts, rows = {}, []
    for family in args.family:
        start = time.perf_counter()
        starts[family], steps = derive(family, worlds)
        rows += steps
        print(f"{family}: {starts[family]} ({time.perf_counter() - start:.0f}s)")
    labels = {env: ", ".join(w.label for w in worlds[env][0]) for env in worlds}
    body = (
        "Starts derived on the validation windows only (never the test window): neutral "
        "settings, then one coordinate pass; score = mean over the data sets of validation "
        "NDCG@10 relative to the neutral settings'. Windows: "
        + "; ".join(f"{env} {lab}" for env, lab in labels.items())
        + ".\n\nDerived starts (copied into conf/base/parameters_recommender.yml):\n\n```yaml\n"
        + yaml.safe_dump(starts, sort_keys=False, default_flow_style=None).strip()
        + "\n```\n\nEvery step (columns per data set: mean validation NDCG@10):\n\n"
        + markdown_table(rows)
    )
    cmd = "python bench/derive_start_configs.py --env " + " ".join(args.env)
    cmd += " --family " + " ".join(args.family)
    # one section per family list: deriving als/lightfm keeps the ease/item_knn section
    title = "Recommender start configurations (validation only): " + ", ".join(args.family)
    write_section("start-configs-" + "-".join(args.family), title, body, cmd)
    print(yaml.safe_dump(starts, sort_keys=False, default_flow_style=None))


if __name__ == "__main__":
    main()
