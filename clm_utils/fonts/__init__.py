"""The Chinese font of plots and reports (see README.md here).

``clm_utils.plots.apply_style`` registers the font files with matplotlib.  :func:`font_face_css`
embeds the glyphs a page needs into its HTML, so Chinese reads on a machine with no CJK font
while the page stays self-contained (a ``data:`` URL, nothing fetched).
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).parent
FAMILY = "CLM Lab Sans SC"
#: What :func:`font_face_css` embeds and declares: CJK radicals to ideographs, full-width forms.
UNICODE_RANGE = "U+2E80-9FFF,U+FF00-FFEF"
REGULAR = HERE / "CLMLabSansSC-Regular.otf"
BOLD = HERE / "CLMLabSansSC-Bold.otf"


def _needs_font(char: str) -> bool:
    """CJK ideographs, punctuation and full-width forms (Latin is left to the reader's fonts)."""
    code = ord(char)
    return 0x2E80 <= code <= 0x9FFF or 0xFF00 <= code <= 0xFFEF


@lru_cache(maxsize=32)
def _woff(path: Path, chars: str) -> str:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(path), recalcTimestamp=False)
    options = subset.Options()
    options.hinting = False
    options.recalc_timestamp = False
    sub = subset.Subsetter(options)
    sub.populate(unicodes=[ord(c) for c in chars])
    sub.subset(font)
    font.flavor = "woff"  # zlib-compressed: every browser reads it, no brotli needed
    buf = io.BytesIO()
    font.save(buf)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def font_face_css(text: str, bold: bool = False) -> str:
    """``@font-face`` rules carrying exactly the Chinese glyphs of ``text`` (empty if it has none).

    Put the rules in the page's ``<style>`` and ``'CLM Lab Sans SC'`` FIRST in its ``font-family``
    list: the face declares a ``unicode-range`` (CJK only), so Latin text still takes the next
    family.  (Listed after the system fonts, Chromium on a machine without CJK fonts drew boxes in
    headings and in some cells: its fallback settles on a system font before the embedded one.)  ``bold`` adds the bold face (headings); without it browsers embolden
    the regular one.  Deterministic: the same text gives the same bytes.  About 0.45 KB of
    page per distinct character and face (the 478 characters of the glossary page: 220 KB), and
    about 2 s per face to subset.
    """
    chars = "".join(sorted({c for c in text if _needs_font(c)}))
    if not chars:
        return ""
    faces = [(REGULAR, 400)] + ([(BOLD, 700)] if bold else [])
    return "".join(
        f"@font-face{{font-family:'{FAMILY}';font-weight:{weight};font-style:normal;unicode-range:{UNICODE_RANGE};"
        f"src:url(data:font/woff;base64,{_woff(path, chars)}) format('woff')}}"
        for path, weight in faces
    )
