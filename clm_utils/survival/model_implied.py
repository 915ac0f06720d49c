"""Survival implied by a BTYD model (the unobserved "alive" state) set against the Kaplan-Meier curve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from clm_utils.errors import ModelError
from clm_utils.survival.kaplan_meier import KaplanMeier

__all__ = ["model_implied_survival", "model_vs_km_table"]


def _default_models() -> dict[str, Any]:
    from clm_utils.clv import BetaGeo, ModifiedBetaGeo

    return {"BG/NBD": BetaGeo, "MBG/NBD": ModifiedBetaGeo}


def model_implied_survival(
    summary: pd.DataFrame,
    times: Sequence[float] | np.ndarray,
    models: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Population survival curve S(t) = P(still alive t after the first purchase) of each model.

    Parameters
    ----------
    summary
        Customer summary (``frequency``, ``recency``, ``T``) used to fit model *classes*.
    times
        Times (in the summary's time unit) at which to evaluate the curves.
    models
        name -> a fitted model (anything with ``survival_function(t)``), or a model class that
        is fitted here with ``cls().fit(summary)``.  Default: BG/NBD and MBG/NBD.

    Returns
    -------
    (curves, notes)
        ``curves``: DataFrame indexed by ``time``, one column per model that could be fitted;
        ``notes``: one sentence per model that the data cannot identify (its ModelError).
    """
    t = np.asarray(times, dtype=float)
    models = _default_models() if models is None else models
    curves: dict[str, np.ndarray] = {}
    notes: list[str] = []
    for name, model in models.items():
        try:
            fitted = model().fit(summary) if isinstance(model, type) else model
            curves[name] = np.asarray(fitted.survival_function(t), dtype=float)
        except ModelError as exc:  # the data cannot identify the model: Kaplan-Meier alone is still shown
            notes.append(f"{name} cannot be fitted on this data ({exc.message})")
    return pd.DataFrame(curves, index=pd.Index(t, name="time")), notes


def model_vs_km_table(km: KaplanMeier, curves: pd.DataFrame | None, times: Sequence[float]) -> pd.DataFrame:
    """Kaplan-Meier S(t) next to each model's S(t) (linear interpolation on the curve grid).

    Times beyond the last Kaplan-Meier time are left out (the curve says nothing there).  With no
    model curves (``None``: the data identify no transaction model) the table has Kaplan-Meier only.
    """
    last = float(km.survival_function_.index.max())
    check = [float(x) for x in times if x <= last]
    out = pd.DataFrame({"Kaplan-Meier": km.predict(check).to_numpy()}, index=pd.Index(check, name="time"))
    if curves is None:
        return out
    grid = curves.index.to_numpy(dtype=float)
    for name in curves.columns:
        out[name] = np.interp(check, grid, curves[name].to_numpy(dtype=float))
    return out
