"""Executed notebook -> self-contained HTML that loads nothing from the network."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from clm_utils.report.execute import NotebookFailed

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"

#: Font list of report pages: the embedded CJK face first (it covers only CJK code points), then system fonts.
FONT_STACK = ("'CLM Lab Sans SC', system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, "
              "'Noto Sans CJK SC', 'PingFang SC', 'Microsoft YaHei', sans-serif")


def cjk_font_css(texts: Iterable[str]) -> str:
    """One ``<style>`` block embedding the Chinese glyphs used anywhere in ``texts`` (empty when there are none).

    Built once per run over all its pages, so Chinese reads on a machine without CJK fonts while every
    page stays self-contained (:func:`clm_utils.fonts.font_face_css`).
    """
    from clm_utils.fonts import font_face_css

    chars: set[str] = set()
    for text in texts:  # the distinct characters (a set in C) of megabytes of pages: the same glyphs, far faster
        chars.update(text)
    css = font_face_css("".join(sorted(chars)))
    if not css:
        return ""
    return (f"<style>{css}body, .jp-RenderedHTMLCommon, .jp-RenderedText pre, table "
            f"{{font-family: {FONT_STACK};}}</style>")


def render_html(notebook: Path, target: Path, *, show_code: bool = False, nav: str = "", footer: str = "",
                head: str = "") -> None:
    """Render an executed notebook to self-contained HTML (no network resources); ``head`` goes into ``<head>``."""
    target.write_text(render_page(notebook, show_code=show_code, nav=nav, footer=footer, head=head), encoding="utf-8")


def render_page(notebook: Path, *, show_code: bool = False, nav: str = "", footer: str = "", head: str = "") -> str:
    """The self-contained HTML page of an executed notebook (see :func:`render_html`).

    Raises
    ------
    NotebookFailed
        When the page would load anything from the network.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATE_DIR)], template_name="clm",
                            exclude_input=not show_code, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    resources = {"metadata": {"name": _title(nb) or notebook.stem}, "clm_nav": nav, "clm_footer": footer}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    body = add_head(body, head)
    leaks = external_resources(body)
    if leaks:
        raise NotebookFailed(f"{notebook.name}: the HTML would load {leaks[0]} from the network")
    return body


def add_head(page: str, head: str) -> str:
    """``page`` with ``head`` (style blocks) at the end of its ``<head>``."""
    return page.replace("</head>", head + "\n</head>", 1) if head else page


def _title(nb: Any) -> str | None:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, flags=re.M)
            if match:
                return match.group(1).strip()
    return None


def external_resources(page: str) -> list[str]:
    """URLs a page would fetch when opened: scripts, styles, fonts, images, frames (links to click are fine)."""
    found = re.findall(r"<(?:script|img|iframe|embed|source|audio|video)\b[^>]*\bsrc\s*=\s*[\"']((?:https?:)?//[^\"']+)",
                       page, flags=re.I)
    found += [href for tag, href in re.findall(r"<(link)\b[^>]*\bhref\s*=\s*[\"']((?:https?:)?//[^\"']+)", page, flags=re.I)]
    found += re.findall(r"@import\s+(?:url\()?[\"']?((?:https?:)?//[^\"')\s]+)", page, flags=re.I)
    found += re.findall(r"url\(\s*[\"']?((?:https?:)?//[^\"')\s]+)", page, flags=re.I)
    found += re.findall(r"\bimport\s*\(?\s*[\"']((?:https?:)?//[^\"']+)", page, flags=re.I)
    return found


