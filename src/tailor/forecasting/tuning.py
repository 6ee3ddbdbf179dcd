"""Optuna tuning of Prophet on rolling-origin folds inside the training window.

Each trial is a nested MLflow run (when a run is active, i.e. under kedro-mlflow) with its
parameters and its mean validation MASE; one log line per trial.
"""

from __future__ import annotations

import logging
from typing import Any

import optuna
import pandas as pd

from tailor.forecasting.calendar import ShopCalendar
from tailor.forecasting.demand import DemandSettings, validate
from tailor.progress import TrialProgress
from tailor.tracking import OptunaMlflowCallback, study_name, suggest

log = logging.getLogger(__name__)


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
    config = {"space": space, "seed": seed, "settings": settings, "defaults": defaults}
    name = study_name(f"forecasting-prophet-{target}", {"train": train}, config)
    study = optuna.create_study(study_name=name, direction="minimize", sampler=sampler)
    study.enqueue_trial({k: v for k, v in defaults.items() if k in space})

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, space)
        folds = validate(train, calendar, params, settings, models=("prophet",))
        return float(folds["mase"].mean())

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trial_run = OptunaMlflowCallback(
        f"prophet-{target}",
        value_key=f"forecast/{target}/prophet/val_mase",
        tags={"target": target},
        log_each=True,
    )
    bar = TrialProgress(n_trials, f"prophet {target} trials")
    study.optimize(objective, n_trials=n_trials, callbacks=[trial_run, bar])
    trials = study.trials_dataframe(attrs=("number", "value", "params")).assign(target=target)
    return dict(study.best_params), trials
