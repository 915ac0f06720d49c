"""The ``clm`` command.

Exit codes: 0 success; 2 user error (bad data or parameters: one line on stderr, no
traceback); 1 internal failure (set ``CLM_DEBUG=1`` for the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clm_utils import config
from clm_utils.errors import ParameterError, UserError

EPILOG = """\
examples:
  clm run                                   every notebook on the bundled CDNOW data
  clm run --data sales.csv --as-of 2025-12-31 --columns customer_id=CustomerID,date=InvoiceDate,amount=Total
  clm run --config run.yml --notebooks 00,03 --show-code
  clm validate --data sales.csv --date-format %d/%m/%Y
  clm run --as-of 1998-03-31 --compare-to 1997-12-31   what changed since the last quarter (notebook 07)
  clm history --from 1997-06-30 --to 1998-06-30 --every 1Q   one dated run per quarter
  clm run --customers customers.csv --margin 0.3 --cost-per-order 2 --acquisition-cost acq_cost   profit, attributes

exit codes: 0 success, 2 bad data or parameters (one line on stderr), 1 internal failure
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage mistakes as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ParameterError(message, hint=f"see `{self.prog} --help`")


def _data_options(p: argparse.ArgumentParser, required: bool = False) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", metavar="FILE", required=required,
                   help="transaction file: CSV (any common separator, .gz ok), Parquet, or CDNOW text; "
                        "default: the bundled CDNOW master file")
    g.add_argument("--columns", metavar="MAP",
                   help="map your columns onto the canonical names, e.g. "
                        "customer_id=CustomerID,date=InvoiceDate,amount=Total[,quantity=Qty]; "
                        "or quantity=Qty,price=UnitPrice when there is no amount column; detected when omitted")
    g.add_argument("--date-format", metavar="FMT", help="strftime format of the dates, e.g. %%d/%%m/%%Y; detected when omitted")
    g.add_argument("--as-of", "--observation-end", dest="as_of", metavar="DATE",
                   help="as-of date (end of observation, YYYY-MM-DD); later transactions are left out and "
                        "counted; default: the last transaction date")
    g.add_argument("--sheet", metavar="NAME|N", help="Excel workbook: the sheet to read (name or 0-based number)")
    g.add_argument("--sep", metavar="CHAR", help="field separator of a text file; detected when omitted")
    g.add_argument("--decimal", choices=[".", ","], help="decimal mark of text amounts (default .)")
    g.add_argument("--negative", choices=["net", "drop", "raise"],
                   help="negative amounts (returns): net them against the customer's earlier purchases "
                        "(default), drop them, or stop with an error")
    g.add_argument("--zero", choices=["drop", "keep", "raise"], help="zero amounts: drop (default), keep, or stop")
    g.add_argument("--duplicates", choices=["drop", "keep", "raise"],
                   help="exact duplicate rows: drop (default), keep, or stop")
    g.add_argument("--invalid", choices=["raise", "drop"],
                   help="rows with unreadable dates or amounts or no customer id: stop (default) or drop them")
    g.add_argument("--strict", action="store_true", default=None,
                   help="stop with an error if transactions are dated after the as-of date")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="clm", description="CLM Lab: customer-lifecycle analyses as parameterised notebooks.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version="clm-lab 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="run the notebooks and render HTML reports",
                         description="Execute the notebooks in order with papermill and render each to "
                                     "self-contained HTML in OUTPUT/RUN_NAME/, with OUTPUT/index.html "
                                     "linking them.  The run is built aside and moved into place only on "
                                     "success.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--config", metavar="YAML", help="read settings from a YAML file (flags override it); keys: "
                     "every setting of clm_utils.settings.Settings (data, columns, as_of, time_unit, models, "
                     "horizon, margin, ...), and output, run_name, notebooks, show_code, params, jobs")
    _data_options(run)
    a = run.add_argument_group("analysis")
    a.add_argument("--calibration-end", metavar="DATE",
                   help="end of the calibration period for holdout checks; default: midpoint of the data")
    a.add_argument("--time-unit", choices=list(config.TIME_UNITS), help="time unit of the models (default W, weeks)")
    a.add_argument("--currency", metavar="CODE", help="currency code shown on money axes (default USD)")
    a.add_argument("--lang", choices=list(config.LANGS), help="language of labels in tables (default en)")
    a.add_argument("--seed", type=int, metavar="N", help="random seed (default 42)")
    pc = run.add_argument_group("profit and customer attributes")
    pc.add_argument("--customers", metavar="FILE", help="customer attribute file (CSV, Parquet, Excel), one row per "
                    "customer id, any columns (channel, region, satisfaction, ...)")
    pc.add_argument("--customers-id", metavar="COL", help="the attribute file's customer id column; detected when omitted")
    pc.add_argument("--margin", type=float, metavar="RATE", help="gross-margin rate in (0, 1]: cost of goods = "
                    "(1 - RATE) x revenue (default 1: no cost of goods; not with a cost column in the data)")
    pc.add_argument("--cost-per-order", type=float, metavar="X", help="cost to serve one order (purchase day)")
    pc.add_argument("--acquisition-cost", metavar="X|COLUMN", help="cost to acquire a customer: a number, or a "
                    "column of the attribute file")
    a.add_argument("--set", action="append", metavar="NAME=VALUE", default=[], dest="set_",
                   help="set any analysis setting (repeatable), e.g. --set clv_model=Pareto/NBD --set margin=0.3; "
                        "VALUE is read as YAML; see clm_utils.settings.Settings")
    a.add_argument("--param", action="append", metavar="NAME=VALUE", default=[],
                   help="set a notebook's own parameter (repeatable); VALUE is read as YAML, e.g. period=Q")
    o = run.add_argument_group("output")
    o.add_argument("--output", metavar="DIR", help=f"output folder (default {config.REPORTS_DIR})")
    o.add_argument("--run-name", metavar="NAME", help="sub-folder of this run (default: the as-of date when one is "
                                                       "given, e.g. 1998-03-31, else the data file's name)")
    o.add_argument("--notebooks", metavar="LIST", help="which notebooks, e.g. 00,03 or clv (default: all, in order)")
    o.add_argument("--show-code", action="store_true", default=None, help="show the code cells in the HTML")
    o.add_argument("--jobs", type=int, metavar="N", help="notebooks run at once (default: 2, or 1 on one core)")
    o.add_argument("--compare-to", metavar="DATE", help="compare with the analysis at this earlier as-of date "
                   "(notebook 07 and the hand-off file's change columns); default: the as-of date minus 07's "
                   "compare_offset (3M)")

    hist = sub.add_parser("history", parents=[run], add_help=False,
                          help="backfill dated runs on one export: one run per as-of date",
                          description="One complete run per as-of date from --from to --to every --every, each "
                                      "named by its date and compared with the previous one; takes every option "
                                      "of `clm run` except --as-of, --run-name and --compare-to.")
    h = hist.add_argument_group("history")
    h.add_argument("--from", dest="date_from", metavar="DATE", required=True, help="first as-of date (YYYY-MM-DD)")
    h.add_argument("--to", dest="date_to", metavar="DATE", required=True, help="last as-of date (included)")
    h.add_argument("--every", metavar="STEP", default="1M",
                   help="calendar step: 1M (default), 1Q, 2W, 1Y, ...; month ends stay month ends")

    val = sub.add_parser("validate", help="check a data file and print its data-quality table",
                         description="Load and validate a transaction file without running any notebook.")
    _data_options(val, required=True)

    summ = sub.add_parser("summarize", help="customer summary of large inputs (pandas, DuckDB or Spark) to Parquet",
                          description="Write the customer summary (or the calibration / holdout split) of a file, "
                                      "folder or glob to Parquet, on pandas, DuckDB (out of core) or Spark.")
    from clm_utils.engines.cli import add_arguments

    add_arguments(summ)

    ref = sub.add_parser("refresh-notebooks", help="re-execute the committed notebooks in place (default data)")
    ref.add_argument("--only", metavar="LIST", help="which notebooks, e.g. 03_clv or 00,01")
    return parser


def _policies(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("negative", "zero", "duplicates", "invalid", "strict", "decimal", "sep", "sheet")
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


def _params(items: Sequence[str], flag: str = "param") -> dict[str, object]:
    import yaml

    out: dict[str, object] = {}
    for item in items:
        if "=" not in item:
            raise ParameterError(f"{item!r} is not NAME=VALUE", parameter=flag, hint=f"write e.g. --{flag} name=value")
        name, value = item.split("=", 1)
        try:
            out[name.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            out[name.strip()] = value
    return out


def _run_options(args: argparse.Namespace) -> Any:
    from clm_utils import report

    file_values = report.read_config_file(args.config) if args.config else {}
    flags: dict[str, Any] = dict(
        data_path=args.data, columns=args.columns, date_format=args.date_format, as_of=args.as_of,
        calibration_end=args.calibration_end, time_unit=args.time_unit, currency=args.currency, lang=args.lang,
        seed=args.seed, output_dir=args.output, run_name=args.run_name, notebooks=args.notebooks,
        show_code=args.show_code, params=_params(args.param) or None, jobs=args.jobs, compare_to=args.compare_to,
    )
    flags |= _profit_flags(args)
    flags |= _policies(args) | _params(args.set_, "set")
    return report.build_options(file_values, **flags)


def _profit_flags(args: argparse.Namespace) -> dict[str, Any]:
    """Settings of the profit and attribute flags (issue 14); ``--acquisition-cost`` is a number or a column."""
    out: dict[str, Any] = dict(customers_path=args.customers, customers_id=args.customers_id, margin=args.margin,
                               cost_per_order=args.cost_per_order)
    value = args.acquisition_cost
    if value is not None:
        try:
            out["acquisition_cost"] = float(value)
        except ValueError:
            out["acquisition_column"] = value
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from clm_utils import report
    from clm_utils.report.index import summary_line

    opts = _run_options(args)
    report.run(opts)
    print(summary_line(Path(opts.output_dir) / opts.run_name))  # one line for schedulers (issue 12)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from clm_utils.periodic import run_history
    from clm_utils.report.index import summary_line

    for flag, value in (("--as-of", args.as_of), ("--run-name", args.run_name), ("--compare-to", args.compare_to)):
        if value:
            raise ParameterError(f"{flag} does not apply to `clm history`", parameter=flag.lstrip("-"),
                                 hint="the runs are named by their as-of dates from --from to --to")
    opts = _run_options(args)
    if opts.settings.as_of:
        raise ParameterError("as_of does not apply to `clm history`", parameter="as_of",
                             hint="remove it from the config file; give --from and --to")
    for folder in run_history(opts, args.date_from, args.date_to, args.every):
        print(summary_line(folder))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from clm_utils.data import load_and_check
    from clm_utils.summary import summarize

    policies = _policies(args)
    read = {k: policies.pop(k) for k in ("sep",) if k in policies}
    tx, quality = load_and_check(args.data, args.columns, args.date_format, observation_end=args.as_of,
                                 **read, **policies)
    print(f"Data quality: {quality.file}")
    print(quality.to_text())
    summ = summarize(tx, args.as_of)
    repeaters = int((summ["frequency"] > 0).sum())
    print(f"\n{len(summ):,} customers, {repeaters:,} of them repeat buyers ({repeaters / len(summ):.1%}); "
          f"{int(summ['n_purchase_days'].sum()):,} purchase days; revenue {tx['amount'].sum():,.2f}.")
    if quality.n_warnings:
        print(f"{quality.n_warnings} warning(s) above: the policies resolved them; see `clm validate --help`.")
    return 0


def cmd_summarize(args: argparse.Namespace) -> int:
    from clm_utils.engines.cli import run

    return run(args)


def cmd_refresh(args: argparse.Namespace) -> int:
    from clm_utils.report import refresh_notebooks

    problems = refresh_notebooks(args.only)
    for p in problems:
        print(f"noise: {p}", file=sys.stderr)
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``clm`` console script."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        handler = {"run": cmd_run, "history": cmd_history, "validate": cmd_validate, "refresh-notebooks": cmd_refresh,
                   "summarize": cmd_summarize}[args.command]
        return handler(args)
    except UserError as exc:
        print(f"clm: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("clm: interrupted; earlier reports are unchanged", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - last line of defence: no traceback unless asked
        if os.environ.get("CLM_DEBUG"):
            traceback.print_exc()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"clm: internal error: {type(exc).__name__}: {first} (set CLM_DEBUG=1 for the traceback; "
              f"please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
