"""A small ESC/POS reader for the tests: what a printer would do with the bytes, as tokens.

Text runs are decoded from GBK (the printer's Chinese mode); commands are recognised with their
parameter lengths; GS k barcodes give their data; unknown command bytes fail loudly, so a stray byte
in a receipt is caught rather than skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ESC, FS, GS, DLE = 0x1B, 0x1C, 0x1D, 0x10
# command (prefix + letter) → number of parameter bytes
_FIXED = {
    (ESC, ord("@")): 0, (ESC, ord("E")): 1, (ESC, ord("a")): 1, (ESC, ord("d")): 1, (ESC, ord("t")): 1,
    (ESC, ord("!")): 1, (ESC, ord("-")): 1, (ESC, ord("p")): 3, (ESC, ord("J")): 1, (ESC, ord("M")): 1,
    (FS, ord("&")): 0, (FS, ord(".")): 0,
    (GS, ord("!")): 1, (GS, ord("h")): 1, (GS, ord("w")): 1, (GS, ord("H")): 1, (GS, ord("f")): 1,
    (DLE, 0x04): 1,
}


@dataclass(frozen=True)
class Cmd:
    name: str  # e.g. "ESC E"
    params: bytes


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Barcode:
    system: int
    data: str


@dataclass(frozen=True)
class Cut:
    mode: int


@dataclass
class Document:
    tokens: list[object] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        """The printed text lines (a text run ends at LF)."""
        out, cur = [], []
        for t in self.tokens:
            if isinstance(t, Text):
                parts = t.text.split("\n")
                cur.append(parts[0])
                for p in parts[1:]:
                    out.append("".join(cur))
                    cur = [p]
        if "".join(cur):
            out.append("".join(cur))
        return out

    @property
    def raw_lines(self) -> list[bytes]:
        """The text lines as the GBK bytes the printer received (their length is the printed width)."""
        return [line.encode("gbk") for line in self.lines]

    @property
    def barcodes(self) -> list[Barcode]:
        return [t for t in self.tokens if isinstance(t, Barcode)]

    def commands(self, name: str) -> list[Cmd]:
        return [t for t in self.tokens if isinstance(t, Cmd) and t.name == name]

    @property
    def cuts(self) -> list[Cut]:
        return [t for t in self.tokens if isinstance(t, Cut)]


def _name(prefix: int, letter: int) -> str:
    head = {ESC: "ESC", FS: "FS", GS: "GS", DLE: "DLE"}[prefix]
    return f"{head} {chr(letter) if 0x20 < letter < 0x7F else f'{letter:02X}'}"


def read(data: bytes) -> Document:
    doc = Document()
    i, text = 0, bytearray()

    def flush() -> None:
        if text:
            doc.tokens.append(Text(text.decode("gbk")))  # strict: undecodable bytes fail the test
            text.clear()

    while i < len(data):
        b = data[i]
        if b in (ESC, FS, GS, DLE):
            flush()
            letter = data[i + 1]
            if (b, letter) == (GS, ord("V")):  # GS V m [n]
                mode = data[i + 2]
                doc.tokens.append(Cut(mode))
                i += 4 if mode in (65, 66) else 3
                continue
            if (b, letter) == (GS, ord("k")):  # GS k m …: function A (NUL-ended) or B (length byte)
                m = data[i + 2]
                if m >= 65:
                    n = data[i + 3]
                    doc.tokens.append(Barcode(m, data[i + 4:i + 4 + n].decode("ascii")))
                    i += 4 + n
                else:
                    end = data.index(0, i + 3)
                    doc.tokens.append(Barcode(m, data[i + 3:end].decode("ascii")))
                    i = end + 1
                continue
            if (b, letter) not in _FIXED:
                raise ValueError(f"unknown command {_name(b, letter)} at byte {i}")
            n = _FIXED[(b, letter)]
            doc.tokens.append(Cmd(_name(b, letter), data[i + 2:i + 2 + n]))
            i += 2 + n
            continue
        if b < 0x20 and b != 0x0A:
            raise ValueError(f"stray control byte {b:02X} at byte {i}")
        text.append(b)
        i += 1
    flush()
    return doc
