"""The sources' own customer schemes, as the theory texts give them (docs/theory.md §1-3).

* **12 customer types**: 3 value groups (high / medium / low, 高/中/低价值) × 4 lifecycle stages
  (考察期 exploration, 形成期 formation, 稳定期 stability, 退化期 decline), each with its policy
  (:func:`customer_types`, :func:`type_grid`).  The scheme has four stages; the suite's fifth label,
  ``terminated`` (终止), is placed in **decline** by default — termination is where decline ends, and the decline
  policy ("find why; win back those worth it, let the others go") is what the texts prescribe for lost customers —
  and flagged in the ``terminated`` column, so that every customer has exactly one of the 12 types.
  The texts name a policy per type without spelling out twelve texts; the policy here is the stage strategy of the
  texts (``clm_utils.lifecycle.stages.STAGE_STRATEGY``) combined with the investment level of the value group.
* **Purchase-frequency classes** 高频 / 低频 / 零频 (:func:`frequency_classes`): zero = no purchase in the period;
  among purchasers, high = more purchase days than the threshold (default: the median of the purchasers), low =
  the others.
* **Core / potential / general customers** 核心 / 潜力 / 一般 (:func:`core_potential_general`): core = the top share
  by current value; potential = not core, but in the top share by potential value (predicted CLV); general = the
  rest.
* **80/20 and "a loyal customer is worth ten times an ordinary one"** (:func:`concentration_checks`,
  :func:`loyalty_ratio`), on profit when costs are given (the ``basis`` says which).  Loyal is defined by tenure and
  repeat behaviour (:func:`loyal_customers`), never by the value it is compared on; the ratio of mean values
  comes with a stratified percentile-bootstrap interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from clm_utils import config
from clm_utils.data.sampling import sample_limit
from clm_utils.errors import DataError, ModelError, ParameterError
from clm_utils.lifecycle.stages import STAGE_STRATEGY, STAGES_ZH
from clm_utils.rfm import top_positions

VALUE_GROUPS: tuple[str, ...] = ("high", "medium", "low")
VALUE_GROUPS_ZH: dict[str, str] = {"high": "高价值", "medium": "中价值", "low": "低价值"}
SCHEME_STAGES: tuple[str, ...] = ("exploration", "formation", "stability", "decline")
VALUE_POLICY: dict[str, str] = {
    "high": "invest most: personal contact, priority service",
    "medium": "invest selectively: targeted offers to move them up",
    "low": "serve at low cost: automated, mass channels",
}
FREQUENCY_CLASSES: tuple[str, ...] = ("high", "low", "zero")
FREQUENCY_CLASSES_ZH: dict[str, str] = {"high": "高频", "low": "低频", "zero": "零频"}
CPG_CLASSES: tuple[str, ...] = ("core", "potential", "general")
CPG_CLASSES_ZH: dict[str, str] = {"core": "核心客户", "potential": "潜力客户", "general": "一般客户"}


# ---------------------------------------------------------------------------------------------
# 12 customer types
# ---------------------------------------------------------------------------------------------
def type_table() -> pd.DataFrame:
    """The 12 types: ``type_no`` (1-12, value group major), ``value_group``, ``stage``, ``type``, ``type_zh``,
    ``policy``, indexed by ``type``."""
    rows = []
    for i, (v, st) in enumerate(((v, st) for v in VALUE_GROUPS for st in SCHEME_STAGES), 1):
        rows.append({"type_no": i, "value_group": v, "stage": st, "type": f"{v} value · {st}",
                     "type_zh": f"{VALUE_GROUPS_ZH[v]}·{STAGES_ZH[st]}",
                     "policy": f"{STAGE_STRATEGY[st]} — {VALUE_POLICY[v]}"})
    return pd.DataFrame(rows).set_index("type")


def customer_types(value_group: pd.Series, stage: pd.Series, terminated: str = "decline") -> pd.DataFrame:
    """Give every customer exactly one of the 12 types (3 value groups × 4 stages) and its policy.

    Parameters
    ----------
    value_group
        ``high`` / ``medium`` / ``low`` per customer (e.g. ``run.customers["value_tier"]``).
    stage
        Lifecycle stage per customer (``run.customers["stage"]``): exploration, formation, stability, decline
        or terminated, on the same index.
    terminated
        The scheme stage that terminated customers are placed in: ``"decline"`` (default, see the module
        docstring) or any other of the four stages.

    Returns
    -------
    DataFrame
        Same index: ``value_group``, ``stage`` (the scheme's stage), ``terminated`` (bool: the suite's stage was
        terminated), ``type_no``, ``type``, ``type_zh``, ``policy``.

    Raises
    ------
    DataError
        A missing or unknown value group or stage, or the two Series on different customers.
    """
    if terminated not in SCHEME_STAGES:
        raise ParameterError(f"terminated customers must go to one of {', '.join(SCHEME_STAGES)}",
                             parameter="terminated")
    if not value_group.index.equals(stage.index):
        if set(value_group.index) != set(stage.index):
            raise DataError("value groups and stages are given for different customers",
                            hint="pass both columns of the same customer table")
        stage = stage.reindex(value_group.index)
    v = value_group.astype("object")
    st = stage.astype("object")
    for what, series, allowed in (("value group", v, VALUE_GROUPS), ("stage", st, SCHEME_STAGES + ("terminated",))):
        bad = ~series.isin(allowed)
        if bad.any():
            example = series[bad].iloc[0]
            raise DataError(f"{int(bad.sum())} customer(s) have no valid {what} (e.g. {example!r})",
                            hint=f"expected one of {', '.join(allowed)}")
    is_term = st == "terminated"
    st = st.where(~is_term, terminated)
    types = type_table().reset_index().set_index(["value_group", "stage"])
    keys = pd.MultiIndex.from_arrays([v.to_numpy(), st.to_numpy()])
    picked = types.reindex(keys)
    out = pd.DataFrame({"value_group": v.to_numpy(), "stage": st.to_numpy(), "terminated": is_term.to_numpy(),
                        "type_no": picked["type_no"].to_numpy().astype(int), "type": picked["type"].to_numpy(),
                        "type_zh": picked["type_zh"].to_numpy(), "policy": picked["policy"].to_numpy()},
                       index=value_group.index)
    return out


def type_grid(types: pd.DataFrame, value: pd.Series | None = None) -> pd.DataFrame:
    """The 12-cell grid: one row per type (all 12, in order) with ``customers``, ``customer_share``,
    ``terminated`` (how many came from the terminated stage), and with ``value``: ``value`` (sum) and
    ``value_share``.  ``attrs["total"]`` is the number of customers, which the ``customers`` column adds up to."""
    table = type_table()
    counts = types["type"].value_counts().reindex(table.index, fill_value=0)
    out = table[["type_no", "value_group", "stage", "type_zh", "policy"]].copy()
    out.insert(4, "customers", counts.astype(int))
    out.insert(5, "customer_share", counts / max(len(types), 1))
    out.insert(6, "terminated", types.groupby("type")["terminated"].sum().reindex(table.index, fill_value=0)
               .astype(int))
    if value is not None:
        val = value.reindex(types.index).astype(float).fillna(0.0)
        sums = val.groupby(types["type"]).sum().reindex(table.index, fill_value=0.0)
        total = float(val.sum())
        out.insert(7, "value", sums)
        out.insert(8, "value_share", sums / total if total != 0 else np.nan)
    out.attrs["total"] = len(types)
    return out


# ---------------------------------------------------------------------------------------------
# purchase-frequency classes
# ---------------------------------------------------------------------------------------------
def period_purchase_counts(transactions: pd.DataFrame, customers: pd.Index, start: str | pd.Timestamp,
                           end: str | pd.Timestamp) -> pd.Series:
    """Purchase days of every customer in ``customers`` within ``[start, end]`` (0 for those without any).

    ``transactions``: canonical frame (``customer_id``, ``date``); same-day rows are one purchase day.
    """
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    if hi < lo:
        raise ParameterError("the period ends before it starts", parameter="end")
    tx = transactions.loc[(transactions[config.DATE] >= lo) & (transactions[config.DATE] <= hi),
                          [config.CUSTOMER_ID, config.DATE]]
    days = tx.assign(**{config.DATE: tx[config.DATE].dt.normalize()}).drop_duplicates()
    counts = days.groupby(config.CUSTOMER_ID, observed=True).size()
    return counts.reindex(customers, fill_value=0).astype(int).rename("purchases")


def frequency_classes(purchases: pd.Series, threshold: float | None = None) -> pd.Series:
    """High / low / zero purchase-frequency classes (高频/低频/零频).

    Parameters
    ----------
    purchases
        Purchase days per customer in the period, every customer of interest included (zeros too), e.g. from
        :func:`period_purchase_counts`.
    threshold
        High = more purchase days than this.  None: the median of the purchasers (customers with at least one
        purchase), so that about half of the purchasers are high; the value used is in ``attrs["threshold"]``.

    Returns
    -------
    Series of ``high`` / ``low`` / ``zero`` on the same index (``attrs["threshold"]``).
    """
    p = purchases.astype(float)
    if p.isna().any() or (p < 0).any():
        raise DataError("purchase counts must be numbers >= 0", column=str(purchases.name))
    buyers = p[p > 0]
    if threshold is None:
        threshold = float(buyers.median()) if len(buyers) else 0.0
    out = pd.Series(np.where(p == 0, "zero", np.where(p > threshold, "high", "low")), index=p.index,
                    name="frequency_class")
    out.attrs["threshold"] = float(threshold)
    return out


# ---------------------------------------------------------------------------------------------
# core / potential / general
# ---------------------------------------------------------------------------------------------
def core_potential_general(current: pd.Series, potential: pd.Series, core_share: float = 0.2,
                           potential_share: float = 0.2) -> pd.Series:
    """Core / potential / general customers (核心/潜力/一般客户) from current and potential value.

    Parameters
    ----------
    current
        Current (realised) value per customer: historical revenue or profit.
    potential
        Potential value per customer: predicted CLV (future value), same customers.
    core_share
        Core = the top ``core_share`` of customers by current value (default 20%, the 80/20 rule's top).
    potential_share
        Potential = not core, and in the top ``potential_share`` of all customers by potential value.

    Returns
    -------
    Series ``core`` / ``potential`` / ``general``.  Ties share a class (mid-rank position).
    """
    for name, share in (("core_share", core_share), ("potential_share", potential_share)):
        if not 0 < share < 1:
            raise ParameterError(f"must be a share in (0, 1), got {share!r}", parameter=name)
    pot = potential.reindex(current.index)
    for name, s in (("current", current), ("potential", pot)):
        if s.isna().any() or not np.all(np.isfinite(s.to_numpy(dtype=float))):
            raise DataError(f"{int(s.isna().sum())} customer(s) have no {name} value", column=str(s.name),
                            hint="compute it for every customer (CLV needs a fitted model)")
    core = top_positions(current.to_numpy(dtype=float)) < core_share
    high_pot = top_positions(pot.to_numpy(dtype=float)) < potential_share
    out = np.where(core, "core", np.where(high_pot, "potential", "general"))
    return pd.Series(out, index=current.index, name="cpg_class")


# ---------------------------------------------------------------------------------------------
# 80/20 and the ten-times claim
# ---------------------------------------------------------------------------------------------
def concentration_checks(values: pd.Series, basis: str = "revenue", top: float = 0.2,
                         threshold: float = 0.75) -> pd.DataFrame:
    """The 80/20 rule on ``values`` (profit when costs are given, else revenue).

    Rows: share of the total held by the top ``top`` of customers (verdict "holds" when ≥ ``threshold``), and the
    share of customers (largest first) needed for 80% of the total ("holds" when ≤ 25%).  With negative values
    (loss-making customers) shares are of the net total and can exceed 100% (the "whale curve").

    Returns DataFrame ``claim``, ``basis``, ``definition``, ``value``, ``verdict``.
    """
    x = np.sort(values.to_numpy(dtype=float))[::-1]
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise DataError("values must be finite numbers for every customer", column=str(values.name))
    total = x.sum()
    if total <= 0:
        raise ModelError(f"the total {basis} is not positive, so shares of it are not defined",
                         hint="check the cost inputs")
    cum = np.cumsum(x) / total
    k = max(int(np.ceil(top * x.size - 1e-9)), 1)
    top_share = float(cum[k - 1])
    need = (int(np.searchsorted(cum, 0.8 - 1e-12, side="left")) + 1) / x.size
    return pd.DataFrame([
        {"claim": "80/20: the top 20% of customers bring ~80%", "basis": basis,
         "definition": f"share of total {basis} from the top {top:.0%} of customers", "value": top_share,
         "verdict": "holds" if top_share >= threshold else "does not hold"},
        {"claim": "80/20 (other side)", "basis": basis,
         "definition": f"share of customers (largest first) that make 80% of {basis}", "value": float(min(need, 1.0)),
         "verdict": "holds" if need <= 0.25 else "does not hold"},
    ])


def loyal_customers(summary: pd.DataFrame, min_tenure_days: float = 364.0, min_purchases: int = 5) -> pd.Series:
    """Loyal customers by behaviour, independent of spend: a relationship of at least ``min_tenure_days`` from the
    first to the last purchase and at least ``min_purchases`` purchase days (defaults: the thresholds of the
    stability stage, ``StageParams.stability_min_tenure`` and ``stability_min_purchases``).

    ``summary``: the customer summary with ``first_purchase``, ``last_purchase``, ``n_purchase_days``.
    """
    for c in ("first_purchase", "last_purchase", "n_purchase_days"):
        if c not in summary.columns:
            raise DataError(f"the summary has no {c!r} column", column=c, hint="use clm_utils.summary.summarize")
    tenure = (summary["last_purchase"] - summary["first_purchase"]).dt.days
    out = ((tenure >= min_tenure_days) & (summary["n_purchase_days"] >= min_purchases)).rename("loyal")
    out.attrs["definition"] = (f"loyal = first to last purchase ≥ {min_tenure_days:g} days and ≥ {min_purchases} "
                               "purchase days; ordinary = everyone else")
    return out


def _boot_means(x: np.ndarray, n_boot: int, rng: np.random.Generator, chunk: int = 200) -> np.ndarray:
    out = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        m = min(chunk, n_boot - start)
        idx = rng.integers(0, x.size, size=(m, x.size))
        out[start:start + m] = x[idx].mean(axis=1)
    return out


def _rescaled_boot_means(x: np.ndarray, n_boot: int, rng: np.random.Generator, cap: int) -> np.ndarray:
    """Bootstrap means of ``x``; above ``cap`` values, of a random sample of ``cap`` with the spread
    rescaled to ``x.size`` (``mean(x) + sqrt(cap / n) * (mean* - mean(sample))``)."""
    if x.size <= cap:
        return _boot_means(x, n_boot, rng)
    sample = x[np.sort(rng.choice(x.size, size=cap, replace=False))]
    return x.mean() + np.sqrt(cap / x.size) * (_boot_means(sample, n_boot, rng) - sample.mean())


def loyalty_ratio(values: pd.Series, loyal: pd.Series, basis: str = "revenue", claim: float = 10.0,
                  tolerance: float = 2.0, n_boot: int = 2000, seed: int = 0, alpha: float = 0.05,
                  sample_above: int | None = None) -> pd.DataFrame:
    """"A loyal customer is worth ten times an ordinary one": mean value of loyal / ordinary customers with a CI.

    Parameters
    ----------
    values
        Value per customer (profit when costs are given, else revenue).
    loyal
        Boolean per customer, defined without ``values`` (e.g. :func:`loyal_customers`).
    claim, tolerance
        The verdict compares the interval with ``[claim / tolerance, claim × tolerance]`` (default 5×-20×):
        "consistent" when they overlap, "smaller" or "larger" when the whole interval lies below or above.
    n_boot, seed, alpha
        Stratified percentile bootstrap (customers resampled within each group), seeded.
    sample_above
        Largest number of customers resampled, half per group (None: the ``CLM_SAMPLE_ABOVE``
        default, 200,000; 0: never).  A larger group is bootstrapped on a seeded random sample of
        ``m`` of its ``n`` customers, and each bootstrap mean's deviation from the sample mean is
        scaled by ``sqrt(m / n)`` around the mean of the whole group: the spread of a mean falls as
        ``1 / sqrt(n)``, so this is the full group's bootstrap distribution to first order, at a cost
        that does not grow with the base (3.45M customers: 140 s -> 4 s).

    Returns
    -------
    One-row DataFrame: ``claim``, ``basis``, ``definition``, ``loyal``, ``ordinary`` (counts), ``mean_loyal``,
    ``mean_ordinary``, ``ratio``, ``lower``, ``upper``, ``verdict``; when a group was sampled, also
    ``interval`` (how; the same sentence in ``attrs["note"]``).
    """
    if n_boot < 100:
        raise ParameterError("n_boot must be at least 100", parameter="n_boot")
    mask = loyal.reindex(values.index)
    if mask.isna().any():
        raise DataError(f"{int(mask.isna().sum())} customer(s) have no loyalty flag")
    mask = mask.astype(bool).to_numpy()
    x = values.to_numpy(dtype=float)
    a, b = x[mask], x[~mask]
    row = {"claim": "a loyal customer is worth ~10× an ordinary one", "basis": basis,
           "definition": str(loyal.attrs.get("definition", "loyal by tenure and repeat purchases")),
           "loyal": int(a.size), "ordinary": int(b.size)}
    if a.size < 2 or b.size < 2 or b.mean() <= 0:
        row.update(mean_loyal=np.nan, mean_ordinary=np.nan, ratio=np.nan, lower=np.nan, upper=np.nan,
                   verdict="cannot be checked (a group is empty or the ordinary mean is not positive)")
        return pd.DataFrame([row])
    rng = np.random.default_rng(seed)
    limit = sample_limit(sample_above)
    cap = None if limit is None else max(limit // 2, 1000)
    if cap is None or (a.size <= cap and b.size <= cap):
        ratios = _boot_means(a, n_boot, rng) / _boot_means(b, n_boot, rng)
        note = None
    else:
        ratios = _rescaled_boot_means(a, n_boot, rng, cap) / _rescaled_boot_means(b, n_boot, rng, cap)
        note = (f"bootstrap on a seeded random sample of at most {cap:,} customers per group (seed {seed}; "
                f"CLM_SAMPLE_ABOVE), its spread rescaled to the full groups of {a.size:,} and {b.size:,}")
    lo, hi = np.quantile(ratios, [alpha / 2, 1 - alpha / 2])
    ratio = float(a.mean() / b.mean())
    low_claim, high_claim = claim / tolerance, claim * tolerance
    verdict = ("smaller than claimed" if hi < low_claim else "larger than claimed" if lo > high_claim
               else "consistent with the claim")
    row.update(mean_loyal=float(a.mean()), mean_ordinary=float(b.mean()), ratio=ratio, lower=float(lo),
               upper=float(hi), verdict=verdict)
    if note:
        row["interval"] = note
    out = pd.DataFrame([row])
    if note:
        out.attrs["note"] = note
    return out


__all__: Sequence[str] = [
    "CPG_CLASSES", "CPG_CLASSES_ZH", "FREQUENCY_CLASSES", "FREQUENCY_CLASSES_ZH", "SCHEME_STAGES", "VALUE_GROUPS",
    "VALUE_GROUPS_ZH", "VALUE_POLICY", "concentration_checks", "core_potential_general", "customer_types",
    "frequency_classes", "loyal_customers", "loyalty_ratio", "period_purchase_counts", "type_grid", "type_table",
]
