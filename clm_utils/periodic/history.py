"""As-of history: dated runs on one export, and the comparison date of a run.

Run names
---------
A run given an as-of date and no ``--run-name`` is named by its as-of date
(``reports/1998-03-31/``); without an as-of date the older rule stands (the data file's stem,
``reports/cdnow/`` for the bundled data).  :func:`run_history` names every dated run by its date.

Calendar steps
--------------
Steps are ``"<n>D"``, ``"<n>W"``, ``"<n>M"``, ``"<n>Q"`` (3 months) or ``"<n>Y"`` with a whole
``n``.  Months are calendar months and a date at a month end stays at month ends
(1997-06-30 + 1Q = 1997-09-30, + 2Q = 1997-12-31), so quarterly and monthly reports fall on the
usual reporting dates.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from clm_utils.errors import ModelError, ParameterError

#: Default distance between a run and the date it is compared with (notebook 07's ``compare_offset``).
DEFAULT_COMPARE_OFFSET = "3M"
#: Sub-folder of a run folder holding the comparison analysis.
COMPARE_SUBDIR = "analysis_compare"


def parse_step(step: str, name: str = "every") -> tuple[int, str]:
    """``"1Q"`` -> ``(1, "Q")``; raise ParameterError for anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*([DWMQYdwmqy])\s*", str(step))
    if not match or int(match.group(1)) == 0:
        raise ParameterError(f"{step!r} is not a calendar step", parameter=name,
                             hint='write a whole number and a unit, e.g. "1M", "1Q", "2W", "1Y"')
    return int(match.group(1)), match.group(2).upper()


def shift_date(date: pd.Timestamp, step: str, times: int = 1, name: str = "every") -> pd.Timestamp:
    """``date`` moved by ``times`` calendar steps (negative: back); month ends stay month ends."""
    n, unit = parse_step(step, name)
    date = pd.Timestamp(date).normalize()
    k = n * times
    if unit in ("D", "W"):
        return date + pd.Timedelta(days=k * (7 if unit == "W" else 1))
    months = k * {"M": 1, "Q": 3, "Y": 12}[unit]
    if date.is_month_end:
        return date + pd.offsets.MonthEnd(months) if months else date
    return date + pd.DateOffset(months=months)


def as_of_dates(start: Any, end: Any, every: str) -> list[str]:
    """The as-of dates ``start``, ``start + every``, ... up to and including ``end`` (YYYY-MM-DD).

    Raises
    ------
    ParameterError
        When a date is not readable or ``end`` is before ``start``.
    """
    from clm_utils.settings import as_date_text

    first = pd.Timestamp(as_date_text(start, "from"))
    last = pd.Timestamp(as_date_text(end, "to"))
    if last < first:
        raise ParameterError(f"--to {last.date()} is before --from {first.date()}", parameter="to",
                             hint="give the later date with --to")
    out: list[str] = []
    k = 0
    while True:
        d = shift_date(first, every, k)
        if d > last:
            break
        out.append(str(d.date()))
        k += 1
    return out


def comparison_date(as_of: Any, offset: str = DEFAULT_COMPARE_OFFSET) -> pd.Timestamp:
    """The date a run is compared with by default: the as-of date minus ``offset``."""
    return shift_date(pd.Timestamp(as_of), offset, -1, name="compare_offset")


def comparison_settings(settings: Any, date: Any) -> Any:
    """The settings of the comparison analysis: the run's settings at the earlier as-of date.

    An explicit calibration end that is not before the earlier date is dropped (the comparison
    then uses the default midpoint), because a calibration period must end before the as-of date.
    """
    date_text = str(pd.Timestamp(date).date())
    changes: dict[str, Any] = {"as_of": date_text}
    if settings.calibration_end and settings.calibration_end >= date_text:
        changes["calibration_end"] = None
    return settings.with_(**changes)


def check_comparison(date: Any, first_date: Any, as_of: Any) -> str | None:
    """Why there can be no comparison at ``date`` (None when there can)."""
    date, first_date, as_of = pd.Timestamp(date), pd.Timestamp(first_date), pd.Timestamp(as_of)
    if date >= as_of:
        return f"the comparison date {date.date()} is not before the as-of date {as_of.date()}"
    if date < first_date:
        return (f"the comparison date {date.date()} lies before the first transaction ({first_date.date()}): "
                "there is nothing to compare with yet")
    return None


def prepare_comparison(settings: Any, result: Any, compare_to: Any, staging: Path, explicit: bool,
                       log: Callable[[str], None] | None = None) -> tuple[Path | None, str | None]:
    """Compute (or reuse from the cache) the comparison analysis and copy it into the run folder.

    Parameters
    ----------
    settings, result
        The run's settings and its :class:`~clm_utils.analysis.Analysis`.
    compare_to
        The earlier as-of date.
    staging
        The run folder being built; the analysis goes to ``staging / COMPARE_SUBDIR``.
    explicit
        Whether the user asked for this date (``--compare-to``): then an impossible date or bad
        data at that date is the user's error; otherwise the run goes on without a comparison.

    Returns
    -------
    The folder of the comparison analysis (or None) and the reason when there is none.
    """
    from clm_utils import analysis
    from clm_utils.analysis import artifacts
    from clm_utils.errors import UserError

    reason = check_comparison(compare_to, result.manifest["first_date"], result.observation_end)
    if reason:
        if explicit:
            raise ParameterError(reason, parameter="compare_to", hint="choose a date inside the data, before --as-of")
        return None, reason
    try:
        cached = analysis.ensure(comparison_settings(settings, compare_to), log=log)
    except UserError as exc:
        if explicit:
            raise
        return None, f"no comparison analysis at {pd.Timestamp(compare_to).date()}: {exc.one_line()}"
    target = staging / COMPARE_SUBDIR
    artifacts.copy_folder(cached, target)
    return target, None


def open_comparison_analysis(run: Any, compare_dir: str | Path | None = None,
                             compare_offset: str = DEFAULT_COMPARE_OFFSET) -> Any:
    """The earlier :class:`~clm_utils.analysis.Analysis` a run is compared with.

    ``compare_dir`` (set by ``clm run``) is read as it is; otherwise the run's settings at the
    as-of date minus ``compare_offset`` are analysed, or reused from the cache.

    Raises
    ------
    ModelError
        When the earlier date lies before the data (the report says so and stops there).
    """
    from clm_utils import analysis

    if compare_dir not in (None, ""):
        return analysis.Analysis(Path(str(compare_dir)))
    date = comparison_date(run.observation_end, compare_offset)
    reason = check_comparison(date, run.manifest["first_date"], run.observation_end)
    if reason:
        raise ModelError(reason, hint="choose a shorter compare_offset, or run with --compare-to DATE")
    return analysis.Analysis(analysis.ensure(comparison_settings(run.settings, date)))


def run_history(opts: Any, start: Any, end: Any, every: str,
                log: Callable[[str], None] | None = None) -> list[Path]:
    """Backfill one dated run per as-of date on one export (``clm history``).

    Each date gets a complete run folder named by the date (``OUTPUT/1997-09-30/``) made by
    :func:`clm_utils.report.run`, compared with the previous date of the series (the first date
    with its default comparison).  The runs are made in date order; the first failure stops the
    series with its error, and like every run, a failed one leaves the earlier report of that
    date untouched.

    Returns
    -------
    The run folders, in date order.
    """
    from clm_utils import report

    log = log or (lambda msg: print(msg, file=sys.stderr))
    dates = as_of_dates(start, end, every)
    cal = opts.settings.calibration_end
    if cal and cal >= dates[0]:
        raise ParameterError(f"the calibration end {cal} is not before the first as-of date {dates[0]}",
                             parameter="calibration_end", hint="leave it out (midpoint of each run) or start later")
    folders: list[Path] = []
    previous: str | None = None
    for i, date in enumerate(dates, 1):
        log(f"history: run {i}/{len(dates)}, as-of {date}")
        one = replace(opts, settings=opts.settings.with_(as_of=date), run_name=date, compare_to=previous)
        report.run(one, log=log)
        folders.append(Path(opts.output_dir) / date)
        previous = date
    return folders


#: Notebook that narrates the comparison (its parameters: ``compare_dir``, ``compare_offset``).
CHANGE_NOTEBOOK = "07_change"


def prepare_run_comparison(opts: Any, result: Any, staging: Path,
                           log: Callable[[str], None] | None = None) -> tuple[Path | None, dict[str, Any]]:
    """The comparison of a ``clm run``: ``--compare-to``, else the as-of date minus 07's ``compare_offset``.

    Without ``--compare-to`` a comparison is made only when notebook 07 runs; when its date lies
    before the data there is none (07 then says why and the run goes on).

    Returns
    -------
    The comparison analysis folder inside the run (or None) and the run.json entries
    ``compare_to`` and ``comparison_note``.
    """
    explicit = getattr(opts, "compare_to", None)
    if explicit:
        date: Any = explicit
    elif CHANGE_NOTEBOOK in opts.notebooks:
        date = comparison_date(result.observation_end, opts.params.get("compare_offset", DEFAULT_COMPARE_OFFSET))
    else:
        return None, {"compare_to": None, "comparison_note": "no comparison asked for"}
    folder, note = prepare_comparison(opts.settings, result, date, staging, explicit=bool(explicit), log=log)
    if note and log:
        log(f"comparison: {note}")
    return folder, {"compare_to": str(pd.Timestamp(date).date()) if folder else None, "comparison_note": note}
