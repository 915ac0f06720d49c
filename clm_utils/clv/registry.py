"""The transaction-model registry and the one "fit, compare, choose, refit" step of the CLV analysis.

* :data:`MODELS` maps the names used in reports and parameters to the model classes.
* :func:`fit_transaction_model` fits one model and, when its estimate runs to the no-dropout
  boundary, fits and returns the nested limit model (the NBD) with a one-sentence note and the
  boundary likelihood-ratio test.
* :func:`fit_value_models` fits the requested models on the calibration summary, compares them on
  the holdout (:func:`clm_utils.clv.diagnostics.compare_models`), chooses one by holdout MAE (or
  the one named), refits it on the full summary at the as-of date and fits the Gamma-Gamma spend
  model.  Every limit model used, every non-convergence and every fallback is a sentence in
  ``notes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from clm_utils.clv._base import BoundaryEstimate, TransactionModel, boundary_lr_test
from clm_utils.clv.betageo import BetaGeo, ModifiedBetaGeo
from clm_utils.clv.diagnostics import compare_models
from clm_utils.clv.gamma_gamma import GammaGamma
from clm_utils.clv.nbd import NBD
from clm_utils.clv.pareto import ParetoNBD
from clm_utils.errors import ModelError, ParameterError

#: transaction models by report name.
MODELS: dict[str, type[TransactionModel]] = {
    "BG/NBD": BetaGeo,
    "MBG/NBD": ModifiedBetaGeo,
    "Pareto/NBD": ParetoNBD,
    "NBD": NBD,
}


@dataclass
class TransactionFit:
    """One fitted transaction model: ``requested`` (name asked for), ``name`` (model actually used:
    the requested one or its limit), ``model`` (fitted), ``note`` (one sentence, or ""),
    ``lr_statistic`` / ``lr_p_value`` (boundary LR test of the limit; NaN when not applicable)."""

    requested: str
    name: str
    model: TransactionModel
    note: str = ""
    lr_statistic: float = float("nan")
    lr_p_value: float = float("nan")


def _model_class(name: str) -> type[TransactionModel]:
    if name not in MODELS:
        raise ParameterError(f"unknown transaction model {name!r}", parameter="models",
                             hint=f"choose from {', '.join(MODELS)}")
    return MODELS[name]


def fit_transaction_model(name: str, summary: pd.DataFrame, weights: Any = None) -> TransactionFit:
    """Fit the model ``name`` of :data:`MODELS`, or its no-dropout limit when its estimate runs there.

    When the estimate runs to the boundary where dropout vanishes (BG/NBD and MBG/NBD: a -> 0 or
    b -> infinity; Pareto/NBD: s -> 0 or beta -> infinity) the likelihood's supremum is attained
    by the NBD, which is fitted and returned.  The likelihood-ratio statistic
    ``LR = 2 (sup LL_model - LL_NBD)`` is referred to the 50:50 mixture of chi2_0 and chi2_1 (the
    null lies on the boundary; Self & Liang 1987).

    Raises
    ------
    ModelError
        Too few repeat buyers, or an estimate at another boundary (the message says which).
    """
    cls = _model_class(name)
    try:
        return TransactionFit(name, name, cls().fit(summary, weights))
    except BoundaryEstimate as exc:
        if exc.limit != "NBD" or name == "NBD":
            raise
        nbd = NBD().fit(summary, weights)
        lr, p = boundary_lr_test(exc.log_likelihood, nbd.log_likelihood_)
        note = (f"{name}: the estimate runs to the boundary ({exc.description}), i.e. no customer is seen to drop "
                f"out, so its limit, the NBD (no dropout), is used; likelihood ratio {lr:.2f}, p = {p:.2f} "
                "(boundary test, 50:50 mixture of chi2_0 and chi2_1)")
        return TransactionFit(name, "NBD", nbd, note, lr, p)


@dataclass
class ValueModels:
    """Result of :func:`fit_value_models`.

    Attributes
    ----------
    comparison
        One row per model actually used on the calibration data (limit models included), indexed
        by name: the columns of :func:`~clm_utils.clv.diagnostics.compare_models` (log-likelihood,
        aic, bic, holdout totals, mae, rmse, ...) plus ``requested`` (the names it stands for),
        ``converged``, ``lr_vs_nbd`` and ``lr_p_value`` (boundary LR test against the NBD; NaN for
        the NBD itself), ``note`` and ``chosen``.
    chosen
        Name of the model used downstream.
    calibration_models
        Name -> model fitted on the calibration summary.
    model
        The chosen model refitted on the full summary at the as-of date (same limit rule).
    model_name
        The name of ``model`` (differs from ``chosen`` when the refit ran to the NBD limit).
    spend_model
        Gamma-Gamma fitted on the full summary, or None (see ``notes``).
    notes
        One-sentence strings for the report.
    """

    comparison: pd.DataFrame
    chosen: str
    calibration_models: dict[str, TransactionModel]
    model: TransactionModel
    model_name: str
    spend_model: GammaGamma | None
    notes: list[str] = field(default_factory=list)

    @property
    def one_time_buyers_alive(self) -> bool:
        """True when the model used gives one-time buyers P(alive) = 1 by construction."""
        return bool(type(self.model).one_time_buyers_alive)


def fit_value_models(
    cal: pd.DataFrame,
    summary: pd.DataFrame,
    models: Sequence[str] = ("BG/NBD", "Pareto/NBD", "MBG/NBD"),
    clv_model: str | None = None,
    spend: bool = True,
) -> ValueModels:
    """Fit, compare and choose the transaction model; refit it and the spend model on all data.

    Parameters
    ----------
    cal
        Calibration/holdout summary (:func:`clm_utils.summary.calibration_holdout`): ``frequency``,
        ``recency``, ``T``, ``frequency_holdout``, ``duration_holdout``.
    summary
        Customer summary at the as-of date (:func:`clm_utils.summary.summarize`): ``frequency``,
        ``recency``, ``T``, ``monetary_value``.
    models
        Names from :data:`MODELS` to fit on ``cal``.
    clv_model
        Name of the model to use downstream; None chooses the smallest holdout MAE among the
        models whose fit converged.  A requested model that ran to its NBD limit is represented
        by the NBD.
    spend
        Fit the Gamma-Gamma spend model on ``summary``.

    Raises
    ------
    ParameterError
        Unknown model names, or ``clv_model`` not among ``models``.
    ModelError
        No model could be fitted (the message of the first failure is kept).
    """
    names = list(dict.fromkeys(models))
    if not names:
        raise ParameterError("no transaction models given", parameter="models", hint=f"choose from {', '.join(MODELS)}")
    for n in names:
        _model_class(n)
    if clv_model is not None and clv_model not in names:
        raise ParameterError(f"clv_model {clv_model!r} is not among the models fitted ({', '.join(names)})",
                             parameter="clv_model")
    notes: list[str] = []
    fits: dict[str, TransactionFit] = {}  # by name actually used
    stands_for: dict[str, list[str]] = {}
    first_error: ModelError | None = None
    for n in names:
        try:
            f = fit_transaction_model(n, cal)
        except ModelError as exc:
            first_error = first_error or exc
            notes.append(f"{n} could not be fitted on the calibration data: {exc.message}")
            continue
        stands_for.setdefault(f.name, []).append(n)
        if f.note:
            notes.append(f.note)
        fits.setdefault(f.name, f)
        if f.name == n:
            fits[n] = f
    if not fits:
        assert first_error is not None
        raise first_error
    fitted = {k: f.model for k, f in fits.items()}
    comparison = compare_models(fitted, cal)
    # boundary LR test of each dropout model against the NBD
    nbd_ll = fitted["NBD"].log_likelihood_ if "NBD" in fitted else None
    if nbd_ll is None and any(k != "NBD" for k in fitted):
        try:
            nbd_ll = NBD().fit(cal).log_likelihood_
        except ModelError:
            nbd_ll = None
    lr = {}
    for k, f in fits.items():
        if k == "NBD" or nbd_ll is None:
            lr[k] = (float("nan"), float("nan"))
        else:
            lr[k] = boundary_lr_test(f.model.log_likelihood_, nbd_ll)
    comparison["requested"] = [", ".join(stands_for[k]) for k in comparison.index]
    comparison["converged"] = [bool(getattr(fitted[k], "converged_", True)) for k in comparison.index]
    comparison["lr_vs_nbd"] = [lr[k][0] for k in comparison.index]
    comparison["lr_p_value"] = [lr[k][1] for k in comparison.index]
    comparison["note"] = [" ".join([f for f in [fits[k].note] + list(getattr(fitted[k], "notes_", [])) if f])
                          for k in comparison.index]
    for k in comparison.index:
        notes.extend(getattr(fitted[k], "notes_", []))
    # choice
    if clv_model is not None:
        chosen = next(k for k, reqs in stands_for.items() if clv_model in reqs) if any(
            clv_model in reqs for reqs in stands_for.values()) else None
        if chosen is None:
            raise ModelError(f"{clv_model} was asked for (clv_model) but could not be fitted on these data",
                             hint="choose another clv_model or leave it empty to choose by holdout error")
        if not comparison.loc[chosen, "converged"]:
            notes.append(f"{chosen} is used as asked although its fit did not converge")
    else:
        ok = comparison[comparison["converged"]]
        if ok.empty:
            raise ModelError("no transaction model converged on the calibration data",
                             hint="use a longer calibration period or more customers")
        chosen = str(ok["mae"].idxmin())
        notes.append(f"{chosen} is used below: smallest holdout error (MAE {ok.loc[chosen, 'mae']:.3f} purchases "
                     "per customer)")
    comparison["chosen"] = comparison.index == chosen
    # refit on all data at the as-of date
    final = fit_transaction_model(chosen, summary)
    if final.note:
        notes.append(final.note.replace(f"{chosen}: ", f"{chosen} on all data: ", 1))
    notes.extend(getattr(final.model, "notes_", []))
    if not getattr(final.model, "converged_", True):
        notes.append(f"{final.name} on all data did not converge; its predictions are flagged")
    if type(final.model).one_time_buyers_alive:
        notes.append(f"{final.name} gives every customer without a repeat purchase P(alive) = 1 by construction"
                     if final.name != "NBD" else "the NBD has no dropout: every customer's P(alive) is 1")
    spend_model: GammaGamma | None = None
    if spend:
        try:
            spend_model = GammaGamma().fit(summary)
        except ModelError as exc:
            notes.append(f"no spend model: Gamma-Gamma cannot be fitted ({exc.message})")
    return ValueModels(comparison=comparison, chosen=chosen, calibration_models=fitted, model=final.model,
                       model_name=final.name, spend_model=spend_model, notes=notes)

