"""Optuna tuning of Prophet on the validation folds inside the training window.

One study per target, stored in SQLite when ``tuning.storage_dir`` is set and named by a
content hash of the training series, the folds, the search space and the seed: a rerun on
the same data resumes its study and runs only the missing trials; changed data starts a
fresh one. The objective is the weighted mean validation MASE, each fold weighing by its
distance in the year from the hold-out (as in the served-model rule). Each trial is a nested
MLflow run (when a run is active, i.e. under kedro-mlflow) tagged with its study.

The best trial is scored on the same folds that choose the served model, so its
validation score is optimistic: 25 tries at those folds. For the selection Prophet is
therefore scored nested (``nested_params``): on fold f with the parameters that were best
on the folds before f only, like any model meeting a window it was not fitted to.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import optuna
import pandas as pd

from tailor.forecasting.calendar import ShopCalendar
from tailor.forecasting.demand import DemandSettings, validation_forecasts
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


def nested_params(
    trials: list[tuple[dict[str, Any], list[float]]],
    defaults: dict[str, Any],
    fold_weights: tuple[float, ...],
) -> list[dict[str, Any]]:
    """Prophet's parameters for each validation fold, chosen on the earlier folds only.

    ``trials``: (parameters, per-fold MASE) of every completed trial. Fold 0 gets
    ``defaults`` (nothing earlier to tune on); fold f the trial with the lowest weighted
    mean MASE over folds 0..f-1 (``fold_weights``; ties: the earlier trial).
    """
    out = [dict(defaults)]
    for f in range(1, len(fold_weights)):
        w = np.asarray(fold_weights[:f], dtype=float)
        best = min(trials, key=lambda t: float(np.average(t[1][:f], weights=w)))
        out.append(dict(best[0]))
    return out


def tune_prophet(
    train: pd.DataFrame,
    calendar: ShopCalendar,
    settings: DemandSettings,
    windows: Windows,
    params: dict[str, Any],
    seed: int,
    target: str,
) -> tuple[dict[str, Any], list[dict[str, Any]], pd.DataFrame]:
    """Best Prophet parameters by recency-weighted validation MASE, the nested per-fold
    parameters for the selection (``nested_params``) and the trials table.

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
        "records": "fold_mase",  # trials store their per-fold MASE (nested selection)
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
    weights = np.asarray(settings.fold_weights, dtype=float)

    def objective(trial: optuna.Trial) -> float:
        p = suggest(trial, space)
        _, scores = validation_forecasts(
            train, calendar, p, settings, windows, models=("prophet",), uncertainty=False
        )
        per_fold = scores.sort_values("fold")["mase"].to_numpy(dtype=float)
        trial.set_user_attr("fold_mase", [float(x) for x in per_fold])
        return float(np.average(per_fold, weights=weights))

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
    complete = [
        (t.params, t.user_attrs["fold_mase"])
        for t in study.trials
        if t.state == optuna.trial.TrialState.COMPLETE and "fold_mase" in t.user_attrs
    ]
    base = {k: v for k, v in defaults.items() if k in space}
    folds = nested_params(complete, base, settings.fold_weights)
    return dict(study.best_params), folds, trials
