"""Optuna tuning of Prophet on rolling-origin folds inside the training window.

Each trial is a nested MLflow run (when a run is active, i.e. under kedro-mlflow) with its
parameters and its mean validation MASE; one log line per trial.
"""

from __future__ import annotations

import logging
from typing import Any

import mlflow
import optuna
import pandas as pd

from tailor.forecasting.calendar import ShopCalendar
from tailor.forecasting.demand import DemandSettings, validate

log = logging.getLogger(__name__)


def suggest(trial: optuna.Trial, space: dict[str, Any]) -> dict[str, Any]:
    """Prophet parameters from the search space in the parameters file."""
    params: dict[str, Any] = {}
    for name, spec in space.items():
        if "choices" in spec:
            params[name] = trial.suggest_categorical(name, list(spec["choices"]))
        else:
            params[name] = trial.suggest_float(
                name, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log", False))
            )
    return params


class NestedRunCallback:
    """Log each finished trial as a nested MLflow run of the active run."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        log.info(
            "prophet %s trial %d: mase %.4f %s",
            self.target,
            trial.number,
            trial.value,
            trial.params,
        )
        if mlflow.active_run() is None:
            return
        with mlflow.start_run(run_name=f"prophet-{self.target}-trial-{trial.number}", nested=True):
            mlflow.log_params(trial.params)
            mlflow.set_tags({"target": self.target, "kind": "optuna-trial"})
            mlflow.log_metric(f"forecast/{self.target}/prophet/val_mase", float(trial.value))


def tune_prophet(
    train: pd.DataFrame,
    calendar: ShopCalendar,
    settings: DemandSettings,
    space: dict[str, Any],
    n_trials: int,
    seed: int,
    target: str,
    defaults: dict[str, Any],
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Best Prophet parameters by mean validation MASE, and the trials table.

    The first trial is Prophet's defaults (``defaults``), so tuning never does worse than
    them on validation.
    """
    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.enqueue_trial({k: v for k, v in defaults.items() if k in space})

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, space)
        folds = validate(train, calendar, params, settings, models=("prophet",))
        return float(folds["mase"].mean())

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=n_trials, callbacks=[NestedRunCallback(target)])
    trials = study.trials_dataframe(attrs=("number", "value", "params")).assign(target=target)
    return dict(study.best_params), trials
