"""Two runs side by side: what changed between the earlier and the later as-of date (notebook 07).

:func:`open_change` pairs the run with its comparison run; :class:`Change` then gives the KPI
deltas, the migration matrices, the customer flows (new, retained, lost, reactivated), the
retention list, the stage transitions against the Markov projection made at the earlier date,
and the forecast check.  Every number comes from the two runs' shared analyses; nothing is refitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clm_utils import config
from clm_utils.data.values import ids_in
from clm_utils.errors import ModelError, ParameterError
from clm_utils.lifecycle import STAGES, stage_transitions
from clm_utils.periodic import forecast_check as fc
from clm_utils.periodic import kpis, migration
from clm_utils.periodic.history import DEFAULT_COMPARE_OFFSET, open_comparison_analysis


@dataclass
class StageCheck:
    """Stage transitions observed over the period against the projection made at the earlier date.

    ``rates``: one row per (from, to) stage pair with ``customers_from`` (customers in the from
    stage at the earlier date), ``projected`` (transition rate estimated at the earlier date on the
    preceding interval of the same length), ``observed`` (rate over the period) and
    ``difference`` (observed - projected).  ``mix``: stage shares of the customers known at the
    earlier date: ``at_date_1``, ``projected`` (one Markov step), ``observed`` and ``difference``.
    ``note``: why there is no projection, or empty.
    """

    rates: pd.DataFrame
    mix: pd.DataFrame
    note: str = ""

    def plot_mix(self, ax: Any = None) -> Any:
        """Bars of the stage mix: at the earlier date, projected for the later date, observed then."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4))
        x = np.arange(len(self.mix))
        for i, (col, label) in enumerate((("at_date_1", "at the earlier date"), ("projected", "projected (Markov)"),
                                          ("observed", "observed"))):
            ax.bar(x + (i - 1) * 0.27, self.mix[col].fillna(0.0), width=0.27, label=label)
        ax.set_xticks(x, list(self.mix.index))
        ax.set_ylabel("share of the customers known at the earlier date")
        ax.set_xlabel("lifecycle stage")
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _p: f"{v:.0%}"))
        ax.set_title("Stage mix: Markov projection made at the earlier date vs what happened")
        ax.legend(fontsize=8)
        return ax


def stage_check(before_tx: pd.DataFrame, after_tx: pd.DataFrame, date_1: Any, date_2: Any,
                stage_params: dict[str, Any] | None = None, *, seed: int = 0,
                sample_above: int | None = None) -> StageCheck:
    """Observed stage transitions in ``(date_1, date_2]`` against the Markov projection made at ``date_1``.

    The projection uses only what was known at ``date_1``: the transition matrix estimated on
    the earlier transactions over ``(date_0, date_1]`` with ``date_0 = date_1 - (date_2 - date_1)``
    (:func:`clm_utils.lifecycle.stage_transitions`), applied once to the stage mix at ``date_1``
    (:meth:`~clm_utils.lifecycle.TransitionResult.project`, closed book: new customers left out).
    The observed transitions use the later transactions with the stage thresholds resolved at
    ``date_1``, so both sides measure the customers with the same rule.

    With more customers than ``sample_above`` (None: the ``CLM_SAMPLE_ABOVE`` default) both sides
    use the transactions of one seeded random sample of customers (:mod:`clm_utils.data.sampling`):
    the rates are proportions, so they carry a sampling error of at most ~0.1 percentage point at
    the default 200,000; the note says so.
    """
    from clm_utils.data.sampling import sample_transactions

    d1, d2 = pd.Timestamp(date_1), pd.Timestamp(date_2)
    params = dict(stage_params or {})
    after_tx, sampled = sample_transactions(after_tx, limit=sample_above, seed=seed)
    if sampled:
        before_tx = before_tx[ids_in(before_tx[config.CUSTOMER_ID], after_tx[config.CUSTOMER_ID].unique())]
    observed = stage_transitions(after_tx, d1, d2, **params)
    counts = observed.counts.drop(index=migration.NEW)
    n_from = counts.sum(axis=1)
    d0 = d1 - (d2 - d1)
    note = ""
    if d0 < before_tx["date"].min():
        note = (f"No projection: the interval before {d1.date()} of the same length starts on {d0.date()}, "
                f"before the first transaction ({before_tx['date'].min().date()}).")
        P = pd.DataFrame(np.nan, index=list(STAGES), columns=list(STAGES))
        projected_mix = pd.Series(np.nan, index=list(STAGES))
    else:
        earlier = stage_transitions(before_tx, d0, d1, **params)
        P = earlier.probabilities.loc[list(STAGES), list(STAGES)].copy()
        unobserved = earlier.unobserved_stages()
        for s in unobserved:  # as TransitionResult.project does: a stage nobody was in keeps its customers
            P.loc[s] = (P.columns == s).astype(float)
        projected_mix = earlier.project(steps=1, start=n_from.astype(float)).iloc[1]
        if unobserved:
            note = f"Nobody was in {', '.join(unobserved)} at {d0.date()}: the projection keeps those customers in place."
    obs_P = observed.probabilities.loc[list(STAGES), list(STAGES)]
    rates = pd.DataFrame({
        "customers_from": np.repeat(n_from.reindex(list(STAGES)).to_numpy(), len(STAGES)),
        "projected": P.to_numpy().ravel(),
        "observed": obs_P.to_numpy().ravel(),
    }, index=pd.MultiIndex.from_product([list(STAGES), list(STAGES)], names=["from", "to"]))
    rates["difference"] = rates["observed"] - rates["projected"]
    total = float(n_from.sum())
    mix = pd.DataFrame({"at_date_1": n_from.reindex(list(STAGES)) / total,
                        "projected": projected_mix.reindex(list(STAGES)).to_numpy(),
                        "observed": counts.sum(axis=0).reindex(list(STAGES)) / total})
    mix["difference"] = mix["observed"] - mix["projected"]
    mix.index.name = "stage"
    if sampled:
        note = (note or "Projection made with the transitions observed over the preceding interval.") + \
            f" Transitions {sampled}."
    return StageCheck(rates=rates, mix=mix, note=note)


class Change:
    """What changed between an earlier and a later run (both :class:`~clm_utils.analysis.Analysis`).

    Parameters
    ----------
    before, after
        The earlier and the later analysis, of the same data and settings but the as-of date.
    lapsed_by
        ``activity`` (class ``churned``) or ``stage`` (``terminated``): the rule that says a
        customer had lapsed (see :mod:`clm_utils.periodic.migration`).
    """

    def __init__(self, before: Any, after: Any, lapsed_by: str = "activity") -> None:
        if before.observation_end >= after.observation_end:
            raise ParameterError(f"the comparison date {before.observation_end.date()} is not before the as-of "
                                 f"date {after.observation_end.date()}", parameter="compare_to")
        self.before, self.after, self.lapsed_by = before, after, lapsed_by
        self.date_1, self.date_2 = before.observation_end, after.observation_end
        self._matrices: dict[str, pd.DataFrame] = {}

    def describe(self) -> str:
        """One sentence naming the two dates and the lapse rule."""
        rule = ("activity class 'churned' (more than churned_after = "
                f"{self.before.settings.churned_after:g} own purchase gaps of silence)" if self.lapsed_by == "activity"
                else "lifecycle stage 'terminated'")
        return (f"Comparing the run at {self.date_2.date()} with the run at {self.date_1.date()} "
                f"({(self.date_2 - self.date_1).days} days); a customer counts as lapsed when the run classes them "
                f"by {rule}.")

    @cached_property
    def alignment(self) -> migration.Alignment:
        """How the two customer tables' rows pair up (computed once, shared by every table below)."""
        return migration.Alignment(self.before.customers.index, self.after.customers.index)

    # -- KPIs and migrations -----------------------------------------------------------------
    @cached_property
    def _kpis(self) -> tuple[dict[str, float | None], dict[str, float | None]]:
        return kpis.headline_kpis(self.before), kpis.headline_kpis(self.after)

    def kpi_deltas(self) -> pd.DataFrame:
        """Headline KPIs at both dates with direction and size (:func:`clm_utils.periodic.kpis.kpi_deltas`)."""
        return kpis.kpi_deltas(*self._kpis)

    def dimensions(self) -> list[str]:
        """The labels both runs have (segment, value tier, pyramid, activity, stage)."""
        return [d for d in migration.DIMENSIONS if d in self.before.customers and d in self.after.customers]

    def migration(self, dimension: str) -> pd.DataFrame:
        """Migration matrix of one label (:func:`clm_utils.periodic.migration.migration_matrix`)."""
        if dimension not in self.dimensions():
            reason = self.after.incomplete.get(dimension) or self.before.incomplete.get(dimension) or "not computed"
            raise ModelError(f"no {dimension} at both dates: {reason}")
        if dimension not in self._matrices:
            self._matrices[dimension] = migration.migration_matrix(
                self.before.customers[dimension], self.after.customers[dimension], migration.DIMENSIONS[dimension],
                alignment=self.alignment)
        return self._matrices[dimension].copy()

    def plot_migration(self, dimension: str, ax: Any = None) -> Any:
        """Flow plot of one label's migration."""
        title = f"{dimension.replace('_', ' ').capitalize()}: {self.date_1.date()} → {self.date_2.date()}"
        return migration.plot_flow(self.migration(dimension), ax=ax, title=title, left=str(self.date_1.date()),
                                   right=str(self.date_2.date()))

    # -- flows -------------------------------------------------------------------------------
    @cached_property
    def flows(self) -> pd.DataFrame:
        """Every customer's group: new, retained, lost, reactivated, still lapsed."""
        return migration.customer_flows(self.before.customers, self.after.customers, self.after.transactions,
                                        self.date_1, self.date_2, self.lapsed_by, alignment=self.alignment)

    def flow_summary(self) -> pd.DataFrame:
        """Customers and period revenue per group (:func:`clm_utils.periodic.migration.flow_summary`)."""
        return migration.flow_summary(self.flows)

    @cached_property
    def _movers(self) -> pd.DataFrame:
        return migration.movers(self.before.customers, self.after.customers, None, alignment=self.alignment)

    def movers(self, top_n: int = 20) -> pd.DataFrame:
        """The retention list (:func:`clm_utils.periodic.migration.movers`; the whole list is made once, then cut)."""
        out = self._movers.head(top_n).copy()
        out.attrs["n"] = len(self._movers)
        return out

    def change_columns(self) -> pd.DataFrame:
        """The hand-off file's change columns (:func:`clm_utils.periodic.migration.change_columns`)."""
        return migration.change_columns(self.before.customers, self.after.customers, self.flows,
                                        alignment=self.alignment)

    # -- stages and forecast -----------------------------------------------------------------
    def stage_check(self) -> StageCheck:
        """Observed stage transitions against the projection made at the earlier date."""
        return stage_check(self.before.transactions, self.after.transactions, self.date_1, self.date_2,
                           self.after.settings.stage_params(), seed=self.after.seed)

    def summary_text(self) -> str:
        """A few sentences for the business: KPIs that moved, won-back and lost customers, the retention
        list and, when the earlier run had a model, the forecast error."""
        d = self.kpi_deltas()
        moved = [f"{k} {r['direction']} {abs(r['relative_change']):.1%}" for k, r in d.iterrows()
                 if r["direction"] in ("up", "down") and np.isfinite(r["relative_change"])]
        s = self.flow_summary()
        n = s["customers"]
        text = [f"Between {self.date_1.date()} and {self.date_2.date()}: " + ("; ".join(moved) or "no KPI moved") + ".",
                (f"{n['new']:,} new customers, {n['retained']:,} retained, {n['lost']:,} lost and {n['reactivated']:,} "
                 f"won back (they bought {s.loc['reactivated', 'revenue_share']:.1%} of the period's revenue)."),
                f"{self.movers(0).attrs['n']:,} high-value customers fell a tier or entered decline: the retention list."]
        if not self.before.incomplete.get("clv"):
            t = self.forecast.totals()
            text.append(f"The forecast made at {self.date_1.date()} expected {t.loc['purchase days', 'forecast']:,.0f} "
                        f"purchase days; {t.loc['purchase days', 'actual']:,.0f} happened "
                        f"({t.loc['purchase days', 'relative_error']:+.1%}).")
        return " ".join(text)

    @cached_property
    def forecast(self) -> fc.ForecastCheck:
        """The earlier run's forecast against the outcome (raises ModelError without a model then)."""
        return fc.forecast_check(self.before, self.after.transactions, self.date_2)


def open_change(run: Any, compare_dir: str | Path | None = None, compare_offset: str = DEFAULT_COMPARE_OFFSET,
                lapsed_by: str = "activity") -> Change:
    """The :class:`Change` between ``run`` and its comparison run (see
    :func:`clm_utils.periodic.history.open_comparison_analysis`)."""
    return Change(open_comparison_analysis(run, compare_dir, compare_offset), run, lapsed_by)
