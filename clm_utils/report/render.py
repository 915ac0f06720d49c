"""Executed notebook -> self-contained HTML that loads nothing from the network."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


from clm_utils.report.execute import NotebookFailed

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"

def render_html(notebook: Path, target: Path, *, show_code: bool = False, nav: str = "", footer: str = "") -> None:
    """Render an executed notebook to self-contained HTML (no network resources)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATE_DIR)], template_name="clm",
                            exclude_input=not show_code, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    resources = {"metadata": {"name": _title(nb) or notebook.stem}, "clm_nav": nav, "clm_footer": footer}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    leaks = external_resources(body)
    if leaks:
        raise NotebookFailed(f"{notebook.name}: the HTML would load {leaks[0]} from the network")
    target.write_text(body, encoding="utf-8")


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


