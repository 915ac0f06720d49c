"""How churn results move with the inactivity window that defines churn."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from clm_utils.survival.durations import churn_durations_by_window
from clm_utils.survival.kaplan_meier import KaplanMeier

__all__ = ["inactivity_sensitivity", "km_by_window"]


def inactivity_sensitivity(
    transactions: pd.DataFrame,
    as_of: str | pd.Timestamp | None,
    windows: Sequence[float],
    time_unit: str = "W",
    churn_time: str = "last_purchase",
    at: Sequence[float] = (26, 52),
) -> pd.DataFrame:
    """How churn results move with the inactivity window.

    For each window: share churned, KM median (and CI) and S(t) at the ``at`` times.
    """
    rows = []
    by_window = churn_durations_by_window(transactions, as_of, list(windows), time_unit, churn_time)
    for w in windows:
        d = by_window[w]
        km = KaplanMeier().fit(d["duration"], d["event"], label=str(w))
        row = {
            "inactivity": w,
            "share_churned": float(d["event"].mean()),
            "median": km.median_,
            "median_lower": km.median_ci_[0],
            "median_upper": km.median_ci_[1],
        }
        for a in at:
            row[f"S({a:g})"] = float(km.predict([a]).iloc[0])
        rows.append(row)
    return pd.DataFrame(rows).set_index("inactivity")


def km_by_window(
    transactions: pd.DataFrame,
    as_of: str | pd.Timestamp | None,
    windows: Sequence[float],
    time_unit: str = "W",
    churn_time: str = "last_purchase",
    unit_name: str = "",
) -> dict[str, KaplanMeier]:
    """One Kaplan-Meier curve per inactivity window, labelled ``"<window> <unit_name>"``."""
    out = {}
    by_window = churn_durations_by_window(transactions, as_of, list(windows), time_unit, churn_time)
    for w in windows:
        d = by_window[w]
        label = f"{w:g} {unit_name}".strip()
        out[label] = KaplanMeier().fit(d["duration"], d["event"], label=label)
    return out
