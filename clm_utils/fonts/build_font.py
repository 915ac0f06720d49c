"""Rebuild ``CLMLabSansSC-Regular.otf`` and ``-Bold.otf``, the Chinese font of plots, from Noto Sans CJK SC.

The font is a subset of Noto Sans CJK SC Regular and Bold (Adobe/Google, SIL Open Font License 1.1, see
``OFL.txt``) restricted to the GB 2312 character set (6,763 hanzi plus its punctuation, symbols and
full-width forms), CJK punctuation and ASCII, renamed to "CLM Lab Sans SC" so that it never poses
as the full Noto family a machine may have installed. Rebuilding is only needed to widen the
character set; the result is deterministic (no time stamps are changed).

Usage::

    python -m clm_utils.fonts.build_font NotoSansCJK-Regular.ttc   # or NotoSansCJKsc-Regular.otf
    python -m clm_utils.fonts.build_font NotoSansCJK-Bold.ttc

The ``.ttc`` comes with Debian's ``fonts-noto-cjk`` package (font number 2 is SC) or from the
upstream project googlefonts/noto-cjk on GitHub.
"""

from __future__ import annotations

import sys
from pathlib import Path

FAMILY = "CLM Lab Sans SC"
HERE = Path(__file__).parent


def charset() -> list[int]:
    """Code points in the subset: GB 2312 (every valid two-byte code), ASCII, Latin-1, CJK marks."""
    points: set[int] = set(range(0x20, 0x7F)) | set(range(0xA0, 0x100))
    for lead in range(0xA1, 0xF8):
        for trail in range(0xA1, 0xFF):
            try:
                char = bytes((lead, trail)).decode("gb2312")
            except UnicodeDecodeError:
                continue
            points.add(ord(char))
    points |= set(range(0x2000, 0x2070))  # general punctuation: “ ” ‘ ’ — … ‰
    points |= set(range(0x3000, 0x3040))  # CJK symbols and punctuation: 、 。 《 》 「 」
    points |= set(range(0xFF01, 0xFF5F))  # full-width forms: ， ： （ ） ％
    points |= {0x00D7, 0x2212, 0x2264, 0x2265, 0x2248, 0x00B1}  # × − ≤ ≥ ≈ ±
    return sorted(points)


def build(source: Path, output_dir: Path = HERE) -> Path:
    """Subset ``source`` (a Noto Sans CJK ``.ttc`` or the SC ``.otf``, Regular or Bold) to :func:`charset`."""
    from fontTools import subset
    from fontTools.ttLib import TTCollection, TTFont

    if source.suffix.lower() == ".ttc":
        fonts = TTCollection(str(source)).fonts
        font = next(f for f in fonts if f["name"].getDebugName(1) == "Noto Sans CJK SC")
    else:
        font = TTFont(str(source))
    options = subset.Options()
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.hinting = False
    options.recalc_timestamp = False
    sub = subset.Subsetter(options)
    sub.populate(unicodes=charset())
    sub.subset(font)
    name = font["name"]
    version = name.getDebugName(5) or ""
    style = "Bold" if "Bold" in (name.getDebugName(2) or "") + (name.getDebugName(4) or "") else "Regular"
    postscript = f"CLMLabSansSC-{style}"
    output = output_dir / f"{postscript}.otf"
    for record in list(name.names):
        if record.nameID in (1, 3, 4, 6, 16, 17, 18, 21, 22):
            name.removeNames(nameID=record.nameID)
    for name_id, value in (
        (1, FAMILY), (2, style), (3, f"{postscript};subset of Noto Sans CJK SC {version}"),
        (4, f"{FAMILY} {style}"), (6, postscript),
    ):
        name.setName(value, name_id, 3, 1, 0x409)
        name.setName(value, name_id, 1, 0, 0)
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [postscript]
        top = cff.topDictIndex[0]
        top.FullName = f"{FAMILY} {style}"
        top.FamilyName = FAMILY
    font.recalcTimestamp = False  # keep the source's head.modified: rebuilds are byte-identical
    font.save(str(output), reorderTables=True)
    return output


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m clm_utils.fonts.build_font NotoSansCJK-Regular.ttc (or -Bold.ttc)")
    print(build(Path(sys.argv[1])))
