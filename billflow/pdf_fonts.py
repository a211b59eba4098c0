"""The PDF's fonts, from PyPI wheels (no font files in the repository): DejaVu Sans from matplotlib prints Latin,
Greek, Cyrillic and the currency signs (€, £, ¥); IPAexGothic from japanize-matplotlib prints Japanese.

fpdf2 parses and subsets every font it is given for every document, so the fonts are cut once per machine to
what documents usually need, and the larger ones are added only as fallbacks when a document's text needs them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
import threading
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF

log = logging.getLogger(__name__)

# The Unicode blocks nearly every document needs: Latin with Extended-A/B (ł, ő, ș), general punctuation,
# currency and letterlike signs. The rest (Greek, Cyrillic, Vietnamese, symbols) comes from the full font.
_BLOCKS = ((0x20, 0x24F), (0x2000, 0x206F), (0x20A0, 0x20CF), (0x2100, 0x214F))
# Documents render in threads: one cut at a time, so two renders never write (and rename) the same file.
_CUTTING = threading.Lock()


@cache
def _package_fonts() -> dict[str, Path]:
    mpl = _package_dir("matplotlib") / "mpl-data" / "fonts" / "ttf"
    return {
        "": mpl / "DejaVuSans.ttf",
        "B": mpl / "DejaVuSans-Bold.ttf",
        "japanese": _package_dir("japanize_matplotlib") / "fonts" / "ipaexg.ttf",
    }


def _package_dir(name: str) -> Path:
    """Where an installed package lives, found without importing it (matplotlib's import alone takes ~1 s)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {name} package (it ships the PDF's fonts) is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _jis_level1() -> tuple[int, ...]:
    """Kana, CJK punctuation, full-width forms and the 2,965 JIS X 0208 level-1 kanji (enumerated by Python's
    EUC-JP codec): most Japanese names and words, a quarter of IPAex's glyphs."""
    kanji = set()
    for row in range(0xB0, 0xD0):
        for cell in range(0xA1, 0xFF):
            try:
                kanji.add(ord(bytes([row, cell]).decode("euc_jp")))
            except UnicodeDecodeError:
                continue
    return tuple(sorted(kanji | set(range(0x3000, 0x3100)) | set(range(0xFF00, 0xFFF0))))


def _reduced(source: Path, label: str, unicodes: Iterable[int]) -> Path:
    """A font cut down to `unicodes`, once per machine (a file in the temp dir, keyed by the package's font):
    fpdf2 parses and subsets its fonts for every document, and the 6,000-glyph DejaVu costs ~100 ms a style
    where the Latin cut costs a few. Text outside a cut falls back to the full font, added only when needed."""
    wanted = sorted(set(unicodes))
    stat = source.stat()
    key = hashlib.sha256(f"{source}:{stat.st_size}:{stat.st_mtime_ns}:{wanted}".encode()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / "billflow-fonts" / f"{source.stem}-{label}-{key}.ttf"
    with _CUTTING:
        if target.exists():
            return target
        try:
            _write_cut(source, target, wanted)
        except OSError as err:  # a read-only temp dir: the full font works, only slower
            log.warning("cannot cache the font cut %s (%s); using the full font", target, err)
            return source
    return target


def _write_cut(source: Path, target: Path, wanted: list[int]) -> None:
    """Subset `source` to `wanted` and write it to `target` atomically."""
    from fontTools import subset

    font = TTFont(str(source))
    options = subset.Options(layout_features=["*"], name_IDs=["*"], glyph_names=True, notdef_outline=True)
    options.drop_tables += ["FFTM"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=wanted)
    subsetter.subset(font)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    font.save(str(partial))
    partial.replace(target)  # atomic: a concurrent worker sees the whole file or none


@cache
def _latin() -> dict[str, Path]:
    latin = [cp for start, end in _BLOCKS for cp in range(start, end + 1)]
    return {style: _reduced(_package_fonts()[style], "latin", latin) for style in ("", "B")}


@cache
def _japanese_common() -> Path:
    return _reduced(_package_fonts()["japanese"], "jis1", _jis_level1())


@cache
def _covers(path: Path) -> frozenset[int]:
    return frozenset(TTFont(str(path), lazy=True).getBestCmap())


def warm_fonts() -> None:
    """Make (once per machine) and read the Latin cuts: the first document rendered then pays for neither."""
    _covers(_latin()[""])


def add_fonts(pdf: FPDF, texts: Iterable[str]) -> None:
    """The Latin cut always; the full DejaVu (Greek, Cyrillic, symbols) and IPAexGothic (Japanese) only as
    fallbacks for the characters a document actually has outside it (parsing them costs more than the page)."""
    for style, path in _latin().items():
        pdf.add_font("DejaVu", style, str(path))
    missing = {ord(ch) for text in texts for ch in text} - _covers(_latin()[""])
    fallbacks: list[str] = []
    # Most documents are Latin only: the fallbacks (and the Japanese cut, seconds to make the first time) are
    # looked at only when a character is missing.
    if missing and missing & _covers(_package_fonts()[""]):
        for style in ("", "B"):
            pdf.add_font("DejaVuFull", style, str(_package_fonts()[style]))
        fallbacks.append("DejaVuFull")
        missing -= _covers(_package_fonts()[""])
    # IPAex ships no bold cut: with exact_match=False the regular one stands in for bold text.
    if missing and missing & _covers(_japanese_common()):
        pdf.add_font("IPAexJIS1", "", str(_japanese_common()))
        fallbacks.append("IPAexJIS1")
        missing -= _covers(_japanese_common())
    if missing:  # rarer kanji (JIS level 2 and beyond), or glyphs no font has (fpdf2 then warns once)
        pdf.add_font("IPAexGothic", "", str(_package_fonts()["japanese"]))
        fallbacks.append("IPAexGothic")
    if fallbacks:
        pdf.set_fallback_fonts(fallbacks, exact_match=False)
    _keep_glyphs_packed(pdf)


def _keep_glyphs_packed(pdf: FPDF) -> None:
    """fontTools recomputes every kept glyph's bounding box when fpdf2 saves a font's subset, unpacking and
    re-encoding each outline (a quarter of a PDF's rendering time). The fonts' boxes are already right, and a
    subset keeps whole glyphs unchanged, so they are written back as they were read."""
    for font in pdf.fonts.values():
        ttfont = getattr(font, "ttfont", None)
        if ttfont is not None:
            ttfont.recalcBBoxes = False
