"""Write ``cdnow_customers.csv``: a SYNTHETIC customer attribute file for the CDNOW master's customers.

CDNOW (the bundled ``CDNOW_master.txt``) has transactions only: no channel, region, survey or acquisition
cost was ever published for its customers.  This file invents them, with effects built in on purpose, so that
the suite's attribute, profit and satisfaction analyses (issue 14) have something to find on CDNOW and a
reader can see what a real attribute file would give.  Nothing in it is a fact about CDNOW's customers.

Columns and how each was drawn (numpy ``default_rng(SEED)``; every draw depends only on the seed and on each
customer's CDNOW transactions up to 1998-06-30):

``customer_id``
    The CDNOW id as the master file writes it (``00001``).  25 randomly chosen customers are left out and 5 ids
    without transactions (``99901``-``99905``) are added, so that the join has ids missing on both sides.
``channel``
    ``web`` / ``mail`` / ``phone``: multinomial logit with baseline weights log(0.5, 0.3, 0.2) and +0.5 ×
    log(1 + repeat purchase days) on ``phone``: phone customers repeat more (a real built-in association, so the
    log-rank test and the Cox model by channel find one).
``region``
    ``north`` / ``south`` / ``east`` / ``west``, uniform and independent of everything: a null attribute (the
    profiles should find no difference by it beyond the 5% false-positive rate).
``account_type``
    ``business`` with probability 0.35 when the first purchase was above 60 dollars, else 0.08; ``personal``
    otherwise.
``satisfaction``
    1-5: ordered-probit draw from the latent score 0.8 × log(1 + repeat purchase days) + N(0, 1), cut at
    0.0, 0.6, 1.2, 1.8 (higher = more satisfied); 3% left empty (not surveyed).  Because the latent score uses the
    customer's own repeat buying, satisfaction and repurchase, P(alive), churn and holdout purchases really are
    associated here: the chain satisfaction -> loyalty -> repurchase is supported by construction (its direction
    is not: the score is drawn from behaviour, not behaviour from the score).
``acquisition_cost``
    Dollars, by channel (web 6, mail 14, phone 22) times a log-normal factor exp(N(0, 0.25)), rounded to cents.
``signup_date``
    The first purchase day minus 0-45 days (uniform), ``YYYY-MM-DD``: a date attribute.

Run ``python tests/data/make_cdnow_customers.py`` from the repository root; the output is byte-identical on
every run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20_14
OUT = Path(__file__).resolve().parent / "cdnow_customers.csv"


def build() -> pd.DataFrame:
    """The attribute table (see the module docstring)."""
    from clm_utils.data import load_cdnow
    from clm_utils.summary import summarize

    tx = load_cdnow()
    summary = summarize(tx, "1998-06-30", "W")
    rng = np.random.default_rng(SEED)
    n = len(summary)
    repeat = np.log1p(summary["frequency"].to_numpy(float))
    # channel: multinomial logit
    logits = np.column_stack([np.full(n, np.log(0.5)), np.full(n, np.log(0.3)), np.log(0.2) + 0.5 * repeat])
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    u = rng.random(n)
    channel = np.array(["web", "mail", "phone"])[(u[:, None] > np.cumsum(prob, axis=1)).sum(axis=1)]
    region = np.array(["north", "south", "east", "west"])[rng.integers(0, 4, n)]
    business = rng.random(n) < np.where(summary["first_amount"].to_numpy(float) > 60, 0.35, 0.08)
    latent = 0.8 * repeat + rng.standard_normal(n)
    satisfaction = 1 + np.searchsorted(np.array([0.0, 0.6, 1.2, 1.8]), latent, side="right")
    surveyed = rng.random(n) >= 0.03
    base = pd.Series(channel).map({"web": 6.0, "mail": 14.0, "phone": 22.0}).to_numpy()
    acquisition = np.round(base * np.exp(0.25 * rng.standard_normal(n)), 2)
    signup = summary["first_purchase"] - pd.to_timedelta(rng.integers(0, 46, n), unit="D")
    table = pd.DataFrame({
        "customer_id": summary.index.astype(str),
        "channel": channel,
        "region": region,
        "account_type": np.where(business, "business", "personal"),
        "satisfaction": pd.Series(satisfaction).astype("Int64").where(surveyed),
        "acquisition_cost": acquisition,
        "signup_date": signup.dt.strftime("%Y-%m-%d").to_numpy(),
    })
    left_out = rng.choice(n, size=25, replace=False)
    table = table.drop(index=table.index[left_out])
    extra = pd.DataFrame({"customer_id": [f"999{i:02d}" for i in range(1, 6)], "channel": "web", "region": "north",
                          "account_type": "personal", "satisfaction": pd.array([4, 5, 3, 4, 2], dtype="Int64"),
                          "acquisition_cost": 6.0, "signup_date": "1998-06-01"})
    return pd.concat([table, extra], ignore_index=True).sort_values("customer_id", kind="mergesort")


if __name__ == "__main__":
    build().to_csv(OUT, index=False, lineterminator="\n")
    print(f"wrote {OUT.name}")
