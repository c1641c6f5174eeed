"""Checking a PDF as a reader would see it: every page rendered to PNG by poppler's pdftoppm and looked at (not
blank), its text read back by pdftotext, and its Chinese shown to be glyphs, not tofu — the font embedded in the
PDF read with fontTools (every character of the text maps to a glyph with an outline, not .notdef), and a known
string rendered through the PDF compared with the same string drawn straight from the font file and with the
notdef box."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageChops, ImageDraw, ImageFont

POPPLER = all(shutil.which(t) for t in ("pdftoppm", "pdftotext", "pdffonts"))
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftoppm, pdftotext) not installed: make test "
                                                       "installs it")


def pages(pdf: Path, dpi: int = 30) -> list[Image.Image]:
    """Each page as a grey image (pdftoppm), in order."""
    out = pdf.parent / f"{pdf.stem}-page"
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", str(pdf), str(out)], check=True, timeout=120)
    files = sorted(pdf.parent.glob(f"{pdf.stem}-page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return [Image.open(f).convert("L") for f in files]


def inked(img: Image.Image) -> int:
    """How many pixels are darker than the paper."""
    return sum(img.point(lambda v: 255 if v < 200 else 0).histogram()[255:])


def text(pdf: Path, first: int | None = None, last: int | None = None) -> str:
    args = ["pdftotext", "-layout"]
    if first:
        args += ["-f", str(first)]
    if last:
        args += ["-l", str(last)]
    return subprocess.run([*args, str(pdf), "-"], check=True, capture_output=True, text=True, timeout=120).stdout


def embedded_fonts(pdf: Path) -> list[list[str]]:
    """pdffonts' rows: name, type, encoding, emb, sub, uni, …"""
    out = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True, text=True, timeout=60).stdout
    return [ln.split() for ln in out.splitlines()[2:] if ln.strip()]


def embedded_font(pdf: Path) -> TTFont:
    """The TrueType font embedded in the PDF (its FontFile2 stream), as fontTools reads it."""
    data = pdf.read_bytes()
    ref = re.search(rb"/FontFile2 (\d+) 0 R", data)
    assert ref, "no embedded TrueType font"
    obj = re.search(rb"\n" + ref.group(1) + rb" 0 obj\s*<<(.*?)>>\s*stream\r?\n", data, re.S)
    assert obj
    declared = re.search(rb"/Length (\d+)", obj.group(1))
    assert declared, "the font stream declares no length"
    length = int(declared.group(1))
    raw = data[obj.end():obj.end() + length]
    return TTFont(io.BytesIO(zlib.decompress(raw) if b"FlateDecode" in obj.group(1) else raw))


def missing_glyphs(font: TTFont, chars: str) -> list[str]:
    """The characters the font draws as nothing or as the notdef box (tofu)."""
    cmap, glyf = font.getBestCmap(), font["glyf"]
    out = []
    for ch in sorted(set(chars)):
        if ch.isspace():
            continue
        name = cmap.get(ord(ch))
        if name is None or name == ".notdef" or glyf[name].numberOfContours == 0:
            out.append(ch)
    return out


def ink_box(img: Image.Image) -> Image.Image:
    """The image cropped to its ink, made black-and-white at a fixed size (to compare shapes, not positions)."""
    bw = img.convert("L").point(lambda v: 255 if v < 160 else 0)
    box = bw.getbbox()
    assert box, "nothing drawn"
    return bw.crop(box).resize((48 * 4, 48))


def difference(a: Image.Image, b: Image.Image) -> float:
    """The share of pixels two ink boxes differ in (0 the same, 1 opposite)."""
    diff = ImageChops.difference(ink_box(a), ink_box(b))
    return sum(diff.histogram()[128:]) / (diff.width * diff.height)


def drawn_from_font(path: Path, index: int, s: str, size: int = 96) -> Image.Image:
    """The string drawn straight from the font file (Pillow/FreeType), black on white."""
    font = ImageFont.truetype(str(path), size, index=index)
    img = Image.new("L", (size * (len(s) + 1), size * 2), 255)
    ImageDraw.Draw(img).text((size // 2, size // 2), s, font=font, fill=0)
    return img
