"""Stage transitions between two as-of dates and their Markov projection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clm_utils.errors import ModelError, ParameterError
from clm_utils.lifecycle.stages import STAGES, assign_stages, resolve_params


@dataclass
class TransitionResult:
    """Stage transitions between two as-of dates.

    ``counts``: rows = stage at ``date_1`` (plus ``new`` for customers acquired after it),
    columns = stage at ``date_2``.  ``probabilities``: the same, row-normalised.
    """

    date_1: pd.Timestamp
    date_2: pd.Timestamp
    counts: pd.DataFrame
    probabilities: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)

    def project(self, steps: int = 4, start: pd.Series | None = None) -> pd.DataFrame:
        """Markov projection of the stage mix (Pfeifer & Carraway 2000's migration model).

        The mix of the existing customers at ``date_2`` (or ``start``) is multiplied by the
        transition matrix ``steps`` times; each step is one ``date_2 - date_1`` interval.  It
        assumes time-homogeneous transitions and no new customers (a closed book): it shows where
        today's customers are heading, not the future size of the business.
        """
        if steps < 0:
            raise ParameterError("steps must be >= 0", parameter="steps")
        P = np.array(self.probabilities.loc[list(STAGES), list(STAGES)].to_numpy(dtype=float), copy=True)
        # a stage never observed at date_1 keeps its customers (identity row) rather than losing them
        empty = self.counts.loc[list(STAGES)].sum(axis=1).to_numpy() == 0
        P[empty] = np.eye(len(STAGES))[empty]
        m = (start if start is not None else self.counts.sum(axis=0)).reindex(list(STAGES), fill_value=0.0)
        m = m.to_numpy(dtype=float)
        if m.sum() <= 0:
            raise ModelError("no customers to project")
        m = m / m.sum()
        rows = [m]
        for _ in range(steps):
            m = m @ P
            rows.append(m)
        step_len = (self.date_2 - self.date_1).days
        out = pd.DataFrame(rows, columns=list(STAGES),
                           index=pd.Index([f"+{i * step_len}d" for i in range(steps + 1)], name="horizon"))
        out.attrs["unobserved_stages"] = [s for s, e in zip(STAGES, empty) if e]
        return out

    def unobserved_stages(self) -> list[str]:
        """Stages nobody was in at ``date_1``: their exit rates are unknown (kept in place by project)."""
        return [s for s in STAGES if self.counts.loc[s].sum() == 0]

    def projection_note(self) -> str:
        """One sentence on the stages nobody was in at ``date_1`` ("" when every stage was observed)."""
        empty = self.unobserved_stages()
        if not empty:
            return ""
        return (f"Note: nobody was in {', '.join(empty)} at {self.date_1.date()}, so the exit rates of "
                f"{'that stage' if len(empty) == 1 else 'those stages'} are unknown; the projection keeps customers "
                "who reach it there, so read those shares as an upper bound.")

    def plot(self) -> Any:
        """The heatmap and the flow side by side; returns the figure."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(14, 5))
        self.plot_heatmap(ax=axes[0])
        self.plot_flow(ax=axes[1])
        fig.tight_layout()
        return fig

    def plot_heatmap(self, ax: Any = None) -> Any:
        """Row-normalised transition matrix as an annotated heatmap."""
        import matplotlib.pyplot as plt

        P = self.probabilities
        if ax is None:
            _, ax = plt.subplots(figsize=(6.5, 4.5))
        im = ax.imshow(P.to_numpy(dtype=float), cmap="Purples", vmin=0, vmax=1, aspect="auto")
        for i in range(P.shape[0]):
            for j in range(P.shape[1]):
                v = P.iat[i, j]
                ax.text(j, i, f"{v:.2f}\n{int(self.counts.iat[i, j]):,}", ha="center", va="center", fontsize=7,
                        color="white" if v > 0.6 else "black")
        ax.set_xticks(range(P.shape[1]), P.columns, rotation=30)
        ax.set_yticks(range(P.shape[0]), P.index)
        ax.set_xlabel(f"stage at {self.date_2.date()}")
        ax.set_ylabel(f"stage at {self.date_1.date()}")
        ax.set_title("Stage transitions (row share, count)")
        ax.grid(False)
        ax.figure.colorbar(im, ax=ax, fraction=0.04)
        return ax

    def plot_flow(self, ax: Any = None, min_share: float = 0.002) -> Any:
        """Sankey-style flow: stacked stage bars at both dates joined by bands sized by count."""
        import matplotlib.pyplot as plt
        from matplotlib.patches import PathPatch, Rectangle
        from matplotlib.path import Path

        C = self.counts
        total = float(C.to_numpy().sum())
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 5))
        left_names = list(C.index)
        right_names = list(C.columns)
        colors = {s: f"C{i}" for i, s in enumerate(STAGES)}
        colors["new"] = "0.6"
        gap = 0.02
        x0, x1, w = 0.0, 1.0, 0.06

        def positions(sizes: np.ndarray) -> np.ndarray:
            starts = np.zeros(len(sizes))
            y = 0.0
            for i, s in enumerate(sizes):
                starts[i] = y
                y += s / total * (1 - gap * (len(sizes) - 1)) + (gap if s > 0 else 0)
            return starts

        lsz = C.sum(axis=1).to_numpy(float)
        rsz = C.sum(axis=0).to_numpy(float)
        ly, ry = positions(lsz), positions(rsz)
        scale = (1 - gap * (len(lsz) - 1)) / total
        for i, name in enumerate(left_names):
            if lsz[i] > 0:
                ax.add_patch(Rectangle((x0 - w, ly[i]), w, lsz[i] * scale, color=colors[name]))
                ax.text(x0 - w - 0.01, ly[i] + lsz[i] * scale / 2, f"{name} {int(lsz[i]):,}", ha="right",
                        va="center", fontsize=8)
        for j, name in enumerate(right_names):
            if rsz[j] > 0:
                ax.add_patch(Rectangle((x1, ry[j]), w, rsz[j] * scale, color=colors[name]))
                ax.text(x1 + w + 0.01, ry[j] + rsz[j] * scale / 2, f"{name} {int(rsz[j]):,}", ha="left",
                        va="center", fontsize=8)
        loff = ly.copy()
        roff = ry.copy()
        for i, a in enumerate(left_names):
            for j, b in enumerate(right_names):
                c = float(C.iat[i, j])
                if c <= 0:
                    continue
                h = c * scale
                if c / total >= min_share:
                    ya, yb = loff[i], roff[j]
                    verts = [(x0, ya), (0.5, ya), (0.5, yb), (x1, yb), (x1, yb + h), (0.5, yb + h), (0.5, ya + h),
                             (x0, ya + h), (x0, ya)]
                    codes = [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4, Path.LINETO, Path.CURVE4,
                             Path.CURVE4, Path.CURVE4, Path.CLOSEPOLY]
                    ax.add_patch(PathPatch(Path(verts, codes), facecolor=colors[a], alpha=0.35, lw=0))
                loff[i] += h
                roff[j] += h
        ax.set_xlim(-0.45, 1.45)
        ax.set_ylim(-0.02, 1.02)
        ax.invert_yaxis()
        ax.axis("off")
        ax.set_title(f"Customer flow between stages: {self.date_1.date()} -> {self.date_2.date()}")
        return ax


def stage_transitions(
    transactions: pd.DataFrame,
    date_1: str | pd.Timestamp,
    date_2: str | pd.Timestamp,
    p_alive_1: pd.Series | None = None,
    p_alive_2: pd.Series | None = None,
    stages_2: pd.Series | None = None,
    **params: Any,
) -> TransitionResult:
    """Transition matrix between the stages at two as-of dates.

    One set of thresholds is used at both dates, so a change of stage reflects the customer, not
    a moved threshold: the data-driven defaults (recent window, pooled rhythm) are resolved once,
    at ``date_1``, or at ``date_2`` when ``stages_2`` is given.  Customers first seen after
    ``date_1`` form the row ``new``.

    Parameters
    ----------
    transactions
        ``customer_id``, ``date`` (datetime64), ``amount``.
    date_1, date_2
        The two dates (``date_1`` before ``date_2``).
    p_alive_1, p_alive_2
        Optional P(alive) at each date for the stage rule.
    stages_2
        The stages already assigned at ``date_2`` with ``params`` (e.g. a run's
        ``customers["stage"]``, indexed by customer).  They are used as they are, so the column
        totals equal that table; the thresholds are then resolved at ``date_2``, which is where
        :func:`assign_stages` resolved them, and applied at ``date_1`` too.
    **params
        Fields of :class:`clm_utils.lifecycle.StageParams`.

    Raises
    ------
    ModelError
        When nobody bought on or before ``date_1`` (the data start later: move ``date_1``).
    """
    d1, d2 = pd.Timestamp(date_1), pd.Timestamp(date_2)
    if d2 <= d1:
        raise ParameterError("date_2 must be after date_1", parameter="date_2")
    if not (transactions["date"] <= d1).any():
        raise ModelError(f"no purchases on or before {d1.date()}, so there are no stages to move from",
                         hint="choose a later first date (e.g. a shorter transition_months)")
    p = resolve_params(transactions, d2 if stages_2 is not None else d1, **params)
    s1 = assign_stages(transactions, d1, p_alive=p_alive_1, **p.__dict__)["stage"]
    if stages_2 is None:
        s2 = assign_stages(transactions, d2, p_alive=p_alive_2, **p.__dict__)["stage"]
    else:
        s2 = stages_2.astype(object)
        bad = ~s2.isin(list(STAGES))
        if bad.any():
            raise ParameterError(f"stages_2 holds {int(bad.sum())} values that are no stage, e.g. "
                                 f"{s2[bad].iloc[0]!r}", parameter="stages_2", hint=f"use {', '.join(STAGES)}")
        extra = s1.index.difference(s2.index)
        if len(extra):
            raise ParameterError(f"{len(extra)} customers bought by {d1.date()} but have no stage in stages_2, "
                                 f"e.g. {extra[0]!r}", parameter="stages_2",
                                 hint="pass the stages of every customer at date_2")
    before = s1.reindex(s2.index).astype(object).fillna("new")
    rows = list(STAGES) + ["new"]
    counts = pd.crosstab(pd.Categorical(before, categories=rows), pd.Categorical(s2.astype(object), categories=list(STAGES)),
                         dropna=False)
    counts = counts.reindex(index=rows, columns=list(STAGES), fill_value=0).astype(int)
    counts.index.name = "from"
    counts.columns.name = "to"
    rs = counts.sum(axis=1)
    probs = counts.div(rs.where(rs > 0, np.nan), axis=0).fillna(0.0)
    return TransitionResult(date_1=d1, date_2=d2, counts=counts, probabilities=probs, params=p.__dict__.copy())
