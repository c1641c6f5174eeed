"""An encrypted backup file (SEC-05, SEC-06): the backup's tar sealed with AES-256-GCM (the `cryptography`
package), so a copied file shows nothing of what it holds — no name, no identity number, not even the row counts of
its manifest — and a changed byte anywhere is refused when it is read.

The tar is sealed as a stream of chunks, never held whole in memory (a year's store is hundreds of MB):

    header  = MAGIC (8) · version (1) · key id (8) · nonce prefix (7, random per file)
    chunk   = last flag (1) · length (4, big-endian) · AES-GCM ciphertext of ≤ CHUNK bytes with its 16-byte tag
    nonce   = nonce prefix · last flag · chunk number (4, big-endian);  associated data = the header

The flag and the number are in the nonce, so a chunk moved, dropped, repeated or flagged last fails its tag; a file
cut short has no last chunk and bytes after the last one are refused. The key id (a hash of the key, not the key)
tells "another key" from "changed" in the refusal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import struct
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from server.backup.errors import BadBackup

MAGIC = b"DDBAKGCM"
VERSION = 1
HEADER = len(MAGIC) + 1 + 8 + 7
CHUNK = 1 << 20
_TAG = 16
_FRAME = struct.Struct(">BI")


def key_id(key: bytes) -> str:
    """What a refusal may name of a key without revealing it."""
    return hashlib.sha256(b"dingdian-backup-key\x00" + key).hexdigest()[:16]


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def key_text(key: bytes) -> str:
    """The key file's content: one base64 line a person can copy onto paper or a USB key."""
    return base64.b64encode(key).decode("ascii") + "\n"


def parse_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ValueError("not a 256-bit key in base64")
    return key


def is_sealed(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(MAGIC)) == MAGIC


def _nonce(prefix: bytes, last: bool, n: int) -> bytes:
    return prefix + bytes([last]) + struct.pack(">I", n)


class SealingWriter(io.RawIOBase):
    """A write-only stream that seals what is written into `out` (tarfile writes into it in stream mode)."""

    def __init__(self, out: BinaryIO, key: bytes) -> None:
        self._out, self._aead, self._n, self._buf = out, AESGCM(key), 0, bytearray()
        self._prefix = os.urandom(7)
        self._header = MAGIC + bytes([VERSION]) + bytes.fromhex(key_id(key)[:16]) + self._prefix
        out.write(self._header)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]  # RawIOBase's is Buffer
        self._buf += data
        while len(self._buf) > CHUNK:
            self._emit(bytes(self._buf[:CHUNK]), last=False)
            del self._buf[:CHUNK]
        return len(data)

    def _emit(self, plain: bytes, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._prefix, last, self._n), plain, self._header)
        self._out.write(_FRAME.pack(last, len(sealed)) + sealed)
        self._n += 1

    def close(self) -> None:
        if not self.closed:
            self._emit(bytes(self._buf), last=True)  # always one last chunk, maybe empty: a cut file is told
            self._buf.clear()
        super().close()


def _refused_changed(name: str) -> BadBackup:
    return BadBackup(f"{name} 已被改动或损坏（加密认证未通过），拒绝恢复",
                     f"{name} was changed or damaged (its encryption's authentication failed): refused")


class OpeningReader(io.RawIOBase):
    """A read-only stream of the sealed file's plain bytes, each chunk authenticated before a byte of it is given."""

    def __init__(self, f: BinaryIO, key: bytes | None, name: str) -> None:
        self._f, self._name, self._n, self._done = f, name, 0, False
        self._header = f.read(HEADER)
        if len(self._header) != HEADER or not self._header.startswith(MAGIC):
            raise BadBackup(f"{name} 不是加密备份文件", f"{name} is not an encrypted backup")
        if self._header[len(MAGIC)] != VERSION:
            raise BadBackup(f"不认识的加密备份版本 {self._header[len(MAGIC)]}",
                            f"unknown encrypted backup version {self._header[len(MAGIC)]}")
        found = self._header[len(MAGIC) + 1:len(MAGIC) + 9].hex()
        if key is None:
            raise BadBackup(f"{name} 已加密，但未配置备份密钥（config.toml [backup] key_file），无法恢复",
                            f"{name} is encrypted and no backup key is configured ([backup] key_file in config.toml)")
        if found != key_id(key):
            raise BadBackup(f"{name} 用另一把密钥加密（密钥编号 {found}，当前配置的密钥为 {key_id(key)}），无法恢复",
                            f"{name} was encrypted with another key (key id {found}; the configured key is "
                            f"{key_id(key)})")
        self._aead, self._prefix = AESGCM(key), self._header[-7:]
        self._plain, self._at = b"", 0

    def readable(self) -> bool:
        return True

    def _next(self) -> None:
        frame = self._f.read(_FRAME.size)
        if len(frame) != _FRAME.size:
            raise _refused_changed(self._name)  # cut short: no last chunk
        last, size = _FRAME.unpack(frame)
        if last > 1 or size < _TAG or size > CHUNK + _TAG:
            raise _refused_changed(self._name)
        sealed = self._f.read(size)
        try:
            self._at, self._plain = 0, self._aead.decrypt(_nonce(self._prefix, bool(last), self._n), sealed, self._header)
        except InvalidTag:
            raise _refused_changed(self._name) from None
        self._n += 1
        if last:
            if self._f.read(1):
                raise _refused_changed(self._name)  # bytes after the last chunk
            self._done = True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]  # RawIOBase's is Buffer
        while self._at >= len(self._plain) and not self._done:
            self._next()
        n = min(len(buffer), len(self._plain) - self._at)
        buffer[:n] = memoryview(self._plain)[self._at:self._at + n]
        self._at += n
        return n
