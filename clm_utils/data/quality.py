"""The data-quality table: what one load read, checked, dropped or changed, and why."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class QualityReport:
    """The data-quality table of one load: what was read, checked, dropped or changed.

    Attributes
    ----------
    file
        The file (or label) the data came from.
    rows
        One dict per check: ``check``, ``status`` (``ok``, ``info``, ``warning``), ``count`` and
        ``detail``.
    """

    file: str
    rows: list[dict[str, object]] = field(default_factory=list)

    def add(self, check: str, count: int | float, detail: str = "", status: str | None = None) -> None:
        """Record one check; ``status`` defaults to ``ok`` for 0 and ``warning`` otherwise."""
        if status is None:
            status = "ok" if not count else "warning"
        self.rows.append({"check": check, "status": status, "count": count, "detail": detail})

    @property
    def n_warnings(self) -> int:
        """How many checks ended in a warning."""
        return sum(1 for r in self.rows if r["status"] == "warning")

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame with columns check, status, count, detail (in check order)."""
        return pd.DataFrame(self.rows, columns=["check", "status", "count", "detail"])

    def to_text(self) -> str:
        """The table as plain text, for the terminal."""
        frame = self.to_frame()
        frame["count"] = frame["count"].map(lambda v: f"{v:,}" if isinstance(v, (int, np.integer)) else str(v))
        return frame.to_string(index=False)

