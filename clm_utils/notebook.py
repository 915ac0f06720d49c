"""What every notebook does first: open the run's shared analysis.

A notebook's first code cell is ``run = nbk.start(settings, run_dir)``: under ``clm run`` it
reads the analysis the run computed once; opened alone in JupyterLab it computes the analysis
for the ``settings`` overrides of its parameters cell (or reuses the cache).  Either way every
notebook shows the same customers with the same labels and numbers.

It also sets the report's language: tables (:func:`clm_utils.tables.set_language`) and, inside
IPython, the figures, which are translated just before they are rendered
(:func:`install_figure_translation`), so a notebook needs no language argument anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from clm_utils import analysis, tables
from clm_utils.analysis import Analysis

#: The figure MIME types whose renderers are wrapped (whichever the inline backend uses).
FIGURE_MIMETYPES: tuple[str, ...] = ("image/png", "image/svg+xml", "image/jpeg", "application/pdf")


def start(settings: Mapping[str, Any] | None = None, run_dir: str | Path | None = None) -> Analysis:
    """Open the shared analysis (see :func:`clm_utils.analysis.load`), apply the plot style and the language.

    Tables shown with :func:`clm_utils.tables.show` and, inside IPython, every figure a cell
    displays are labelled in ``run.lang``.
    """
    run = analysis.load(settings, run_dir)
    tables.set_language(run.lang)
    install_figure_translation(run.lang)
    return run


def localized_renderer(render: Callable[..., Any], lang: str) -> Callable[..., Any]:
    """``render`` (a display formatter's function for a Figure) that first translates the figure.

    The figure's titles, axis labels, legends and category ticks go through
    :func:`clm_utils.plots.localize_figure`; ``en`` returns ``render`` itself.
    """
    from clm_utils.plots import localize_figure

    if lang == "en":
        return render
    if getattr(render, "_clm_lang", None) == lang:
        return render
    inner = getattr(render, "_clm_inner", render)

    def wrapped(fig: Any, *args: Any, **kwargs: Any) -> Any:
        localize_figure(fig, lang)
        return inner(fig, *args, **kwargs)

    wrapped._clm_lang = lang  # type: ignore[attr-defined]
    wrapped._clm_inner = inner  # type: ignore[attr-defined]
    return wrapped


def install_figure_translation(lang: str) -> bool:
    """Translate every matplotlib figure IPython displays into ``lang``; False outside IPython.

    Figures reach the notebook through IPython's display formatters: the inline backend's flush at
    the end of a cell, ``plt.show()``, ``display(fig)`` and a cell ending in an Axes all render the
    Figure with the function registered for it per MIME type.  That function is wrapped with
    :func:`localized_renderer`.  The inline backend is activated first, so its own registration
    cannot replace the wrapper later; calling again (another ``start``) does not wrap twice, and
    ``en`` restores the plain renderers.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the notebooks
        return False
    ip = get_ipython()
    if ip is None or not hasattr(ip, "display_formatter"):
        return False
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    if not plt.get_fignums():  # load the backend now (pyplot loads it lazily, at the first figure):
        plt.switch_backend(matplotlib.get_backend())  # the inline backend registers its renderers here
    for mime in FIGURE_MIMETYPES:
        formatter = ip.display_formatter.formatters.get(mime)
        if formatter is None:
            continue
        try:
            render = formatter.lookup_by_type(Figure)
        except KeyError:
            continue
        if lang == "en":
            formatter.for_type(Figure, getattr(render, "_clm_inner", render))
        else:
            formatter.for_type(Figure, localized_renderer(render, lang))
    return True


def setup(
    data_path: str | Path | None = None,
    columns: Mapping[str, str] | str | None = None,
    date_format: str | None = None,
    observation_end: object = None,
    calibration_end: object = None,
    time_unit: str = "W",
    currency: str | None = None,
    lang: str | None = None,
    seed: int | None = None,
    run_dir: str | Path | None = None,
    **policies: object,
) -> Analysis:
    """The older entry point with one keyword per common setting; same result as :func:`start`."""
    if run_dir not in (None, ""):
        run = analysis.load(run_dir=run_dir)
    else:
        values: dict[str, Any] = dict(data_path=data_path, columns=columns, date_format=date_format,
                                      as_of=observation_end, calibration_end=calibration_end, time_unit=time_unit,
                                      currency=currency, lang=lang, seed=seed, **policies)
        run = analysis.load({k: v for k, v in values.items() if v is not None})
    tables.set_language(run.lang)
    install_figure_translation(run.lang)
    return run
