"""The one CJK font the PDFs are set in, found by path in one place.

WenQuanYi Micro Hei (Debian `fonts-wqy-microhei`, which `make test` installs): the smallest Debian package whose
font covers the simplified Chinese of drug names, addresses and people's names (5 MB installed, against 60+ MB
for Noto CJK), with TrueType outlines that the PDF library embeds as a subset, so a PDF opens the same on a
machine without the font. Noto Sans CJK and Droid Sans Fallback are taken when WenQuanYi is not there (a store's
own machine may carry another); none of them there is a clear error in both languages, never a PDF of boxes.
"""

from __future__ import annotations

from pathlib import Path

# (path, index in a font collection): the first that exists is used.
CANDIDATES: tuple[tuple[Path, int], ...] = (
    (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), 0),
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),  # its simplified-Chinese face (SC)
    (Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"), 0),
)
PACKAGE = "fonts-wqy-microhei"


class FontMissing(RuntimeError):
    """No CJK font on this machine: the PDF would print boxes (tofu) instead of Chinese."""

    def __init__(self, looked: tuple[tuple[Path, int], ...]) -> None:
        paths = ", ".join(str(p) for p, _ in looked)
        self.message_zh = f"未找到中文字体，无法生成 PDF：请安装 Debian 软件包 {PACKAGE}（apt-get install {PACKAGE}）"
        self.message_en = f"no CJK font found, cannot write a PDF: install the Debian package {PACKAGE} (looked at {paths})"
        super().__init__(f"{self.message_zh} / {self.message_en}")


def cjk_font(candidates: tuple[tuple[Path, int], ...] | None = None) -> tuple[Path, int]:
    """The CJK font's path and its index in a collection (of CANDIDATES unless given); FontMissing when none is
    installed."""
    looked = CANDIDATES if candidates is None else candidates
    for path, index in looked:
        if path.is_file():
            return path, index
    raise FontMissing(looked)
