"""Optuna tuning of Prophet on the validation folds inside the training window.

One study per target, stored in SQLite when ``tuning.storage_dir`` is set and named by a
content hash of the training series, the folds, the search space and the seed: a rerun on
the same data resumes its study and runs only the missing trials; changed data starts a
fresh one. The objective is the recency-weighted mean validation MASE (the folds nearest
the forecast weigh most, as in the served-model rule). Each trial is a nested MLflow run
(when a run is active, i.e. under kedro-mlflow) tagged with its study.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import optuna
import pandas as pd

from tailor.forecasting.calendar import ShopCalendar
from tailor.forecasting.demand import DemandSettings, recency_weights, validation_forecasts
from tailor.forecasting.windows import Windows
from tailor.progress import TrialProgress
from tailor.tracking import OptunaMlflowCallback, open_study, study_name, suggest

log = logging.getLogger(__name__)


def _calendar_key(calendar: ShopCalendar) -> list:
    """The calendar in a stable order (sets of strings iterate differently per process)."""
    return [
        sorted(calendar.closed_weekdays),
        sorted(calendar.closed_holidays),
        sorted(calendar.annual_closures),
        calendar.country,
    ]


def tune_prophet(
    train: pd.DataFrame,
    calendar: ShopCalendar,
    settings: DemandSettings,
    windows: Windows,
    params: dict[str, Any],
    seed: int,
    target: str,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Best Prophet parameters by recency-weighted validation MASE, and the trials table.

    The first trial is Prophet's own defaults (``prophet.defaults``), so tuning never does
    worse than them on validation.
    """
    tuning = params["tuning"]
    space = tuning["space"]
    defaults = params["prophet"]["defaults"]
    config = {
        "space": space,
        "seed": seed,
        "settings": repr(settings),
        "windows": windows.as_dict(),
        "calendar": _calendar_key(calendar),
        "defaults": defaults,
    }
    name = study_name(f"forecasting-prophet-{target}", {"train": train}, config)
    study = open_study(
        name,
        tuning.get("storage_dir"),
        "optuna_forecasting.db",
        "minimize",
        optuna.samplers.TPESampler(seed=seed),
    )
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not study.trials:
        study.enqueue_trial({k: v for k, v in defaults.items() if k in space})
    weights = recency_weights(windows.n_folds, settings.recency_decay)

    def objective(trial: optuna.Trial) -> float:
        p = suggest(trial, space)
        _, scores = validation_forecasts(
            train, calendar, p, settings, windows, models=("prophet",), uncertainty=False
        )
        return float(np.average(scores.sort_values("fold")["mase"], weights=weights))

    remaining = max(int(tuning["n_trials"]) - len(done), 0)
    if remaining:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        trial_run = OptunaMlflowCallback(
            f"prophet-{target}",
            value_key=f"forecast/{target}/prophet/val_mase",
            tags={"target": target},
            log_each=True,
        )
        bar = TrialProgress(remaining, f"prophet {target} trials")
        study.optimize(objective, n_trials=remaining, callbacks=[trial_run, bar])
    else:
        log.info("prophet %s: study %s already complete, resumed", target, name)
    trials = study.trials_dataframe(attrs=("number", "value", "params")).assign(
        target=target, study=name
    )
    return dict(study.best_params), trials
