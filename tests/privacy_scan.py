"""SEC-06 proven over what the suite writes: no whole 18-digit 居民身份证号 (its check character valid) in any receipt,
report, export, archive or log the tests produce, except the agency's own submissions, registered by name.

What is read, at the end of each pytest process (each xdist worker: its own base temp):
- every file under the session's base temp (tmp_path_factory's): the service's and the CLI's logs, exported XLSX,
  CSV, PDF and zip archives, anything a subprocess wrote there — but copies of the project's source (SOURCE). A zip
  (XLSX is one) is read member by member, nested zips too; a PDF through `pdftotext` (poppler-utils, which `make
  test` installs), cached by the file's mtime and size and by its content's SHA-256; any other file with a NUL byte
  near its start is a binary that is no document (a database, its backup, an image) and is left alone, as is
  anything over MAX_TEXT_BYTES;
- every log record the process emitted (a handler on the root logger sees each record a logger lets through);
- every document the printers received: the simulated printer's slips and the fake TCP and serial printers' bytes
  (tests/devices/fake_printer.py hands them over).

Found numbers are reported masked: the report itself never carries one whole.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import subprocess
import threading
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from catalog.codes import mask_id, whole_ids_in

MAX_TEXT_BYTES = 64 * 1024 * 1024  # a text file larger than this is no receipt, report or log the suite writes
_SNIFF = 8192  # a NUL byte in the first bytes: a binary (a SQLite file, a backup's tar, a PNG)
_ZIP, _PDF = b"PK\x03\x04", b"%PDF-"
# Copies of the project's own source a test makes (the import contracts run on a copy of the tree): code, reviewed
# as code — the demo's cards carry their holders' numbers whole — and no document the service wrote.
SOURCE = frozenset({".py", ".pyi"})


@dataclass(frozen=True)
class Hit:
    where: str  # the file (and the member inside an archive), the log record or the printer
    masked: str  # the number as mask_id shows it

    def __str__(self) -> str:
        return f"{self.where}: {self.masked}"


# --- what is exempt: the agency's own submissions, registered explicitly by the test that makes one ------------

_AGENCY: set[Path] = set()


def agency_submission(path: Path) -> Path:
    """Registers a file the agency's export wrote (the card statement --for-agency, the inspection archive for the
    agency): it carries whole numbers by design (SEC-06's exception) and the scan skips it. Returns the path."""
    _AGENCY.add(path.resolve())
    return path


def is_agency_submission(path: Path) -> bool:
    return path.resolve() in _AGENCY


# --- reading one document ---------------------------------------------------------------------------------------

_pdf_text: dict[str, str] = {}  # the content's SHA-256 -> its text
_file_hits: dict[tuple[str, int, int], tuple[Hit, ...]] = {}  # (path, mtime_ns, size) -> what it held


def _text_of_pdf(data: bytes) -> str:
    key = hashlib.sha256(data).hexdigest()
    if key not in _pdf_text:
        try:
            done = subprocess.run(["pdftotext", "-q", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True,
                                  check=False, timeout=120)
        except FileNotFoundError:
            raise AssertionError("SEC-06's scan reads PDFs with pdftotext: install poppler-utils (make test "
                                 "does)") from None
        if done.returncode != 0:
            raise AssertionError(f"pdftotext could not read a PDF ({done.returncode}): {done.stderr[:200]!r}")
        _pdf_text[key] = done.stdout.decode("utf-8", "replace")
    return _pdf_text[key]


def _found(where: str, text: str) -> list[Hit]:
    return [Hit(where, mask_id(n)) for n in whole_ids_in(text)]


def scan_bytes(where: str, data: bytes, depth: int = 0) -> list[Hit]:
    """Whole identity numbers in one document: a zip member by member, a PDF's text, a text file's bytes."""
    if data.startswith(_ZIP) and depth < 3:
        hits: list[Hit] = []
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for member in z.infolist():
                    if not member.is_dir():
                        hits += scan_bytes(f"{where}!{member.filename}", z.read(member), depth + 1)
        except zipfile.BadZipFile:
            return _found(where, data.decode("latin-1"))
        return hits
    if data.startswith(_PDF):
        return _found(where, _text_of_pdf(data))
    if b"\x00" in data[:_SNIFF] or len(data) > MAX_TEXT_BYTES:
        return []
    # latin-1 maps every byte to one character: ASCII digits stay digits whatever the file's encoding (UTF-8, GBK)
    return _found(where, data.decode("latin-1"))


def scan_file(path: Path) -> list[Hit]:
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _file_hits:
        with path.open("rb") as f:
            head = f.read(_SNIFF)
            document = head.startswith((_ZIP, _PDF)) or (b"\x00" not in head and st.st_size <= MAX_TEXT_BYTES)
            data = head + f.read() if document else b""
        _file_hits[key] = tuple(scan_bytes(str(path), data)) if document else ()
    return list(_file_hits[key])


def scan_tree(root: Path) -> list[Hit]:
    """Every regular file under `root` but the agency's registered submissions."""
    hits: list[Hit] = []
    for top, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(top, name)
            if path.is_symlink() or not path.is_file() or is_agency_submission(path) or path.suffix in SOURCE:
                continue
            try:
                hits += scan_file(path)
            except FileNotFoundError:  # a file a still-running thread removed meanwhile
                continue
    return hits


# --- what never becomes a file: log records, printed documents --------------------------------------------------

_lock = threading.Lock()
_streamed: list[Hit] = []


def printed(where: str, data: bytes | str) -> None:
    """A printer received a document (ESC/POS bytes in GBK, or the simulated printer's text)."""
    text = data if isinstance(data, str) else data.decode("latin-1")
    found = _found(f"printer {where}", text)
    if found:
        with _lock:
            _streamed.extend(found)


class LogWatch(logging.Handler):
    """Every record a logger lets through, its message and traceback text, checked as it is emitted."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a record whose arguments do not format: its template is what would be written
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + repr(record.exc_info[1])
        found = _found(f"log record {record.name} ({record.pathname}:{record.lineno})", text)
        if found:
            with _lock:
                _streamed.extend(found)


def streamed() -> list[Hit]:
    with _lock:
        return list(_streamed)


def forget_streamed(hits: Iterable[Hit]) -> None:
    """The scanner's own test planted these on purpose: they are not the suite's."""
    gone = set(hits)
    with _lock:
        _streamed[:] = [h for h in _streamed if h not in gone]


def report(hits: list[Hit]) -> str:
    """Grouped by where: each place once, with the numbers found there (masked) and how often."""
    places: dict[str, dict[str, int]] = {}
    for h in hits:
        seen = places.setdefault(h.where, {})
        seen[h.masked] = seen.get(h.masked, 0) + 1
    shown = "\n".join(f"  {where}: " + ", ".join(f"{m} ×{n}" if n > 1 else m for m, n in found.items())
                      for where, found in list(places.items())[:30])
    more = f"\n  … and {len(places) - 30} more places" if len(places) > 30 else ""
    return (f"SEC-06: {len(hits)} whole identity number(s) in {len(places)} place(s) the suite wrote, printed or "
            f"logged (no agency submission registered there; shown masked):\n{shown}{more}")
