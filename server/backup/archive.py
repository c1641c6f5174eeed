"""A backup file: `dingdian-<store>-<UTC stamp>.tar` holding `manifest.json` and the payload (the SQLite file
gzip-compressed, or PostgreSQL's custom-format dump), with `<file>.sha256` beside it in `sha256sum` format. With a
backup key (`[backup] key_file`) the whole tar is sealed (`sealed`: AES-256-GCM), manifest and all; the file keeps
its name and its `.sha256` (of the sealed bytes), and every reader here opens either kind.

The manifest is what a restore is verified against: the schema head, every table's row count and each store's
audit chain head, all read from the same snapshot the payload was taken from.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from server.backup import sealed
from server.backup.errors import BadBackup

__all__ = ["BadBackup", "Manifest", "check_file", "extract_payload", "read_manifest", "sha256_of", "write"]
FORMAT = 1
MANIFEST = "manifest.json"
PAYLOAD = {"sqlite": "database.sqlite3.gz", "postgresql": "database.pgdump"}
CHUNK = 1 << 20


@dataclass(frozen=True)
class Manifest:
    created_at: str  # UTC, ISO 8601
    backend: str  # sqlite | postgresql
    revision: str  # the schema's migration head
    audit_heads: dict[str, str]  # store id -> "seq:hash"
    rows: dict[str, int]  # table -> row count
    payload: str
    payload_sha256: str
    payload_bytes: int
    store_code: str = ""
    format: int = FORMAT
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        try:
            raw = json.loads(data)
            if raw.get("format") != FORMAT:
                raise BadBackup(f"不认识的备份格式 {raw.get('format')!r}", f"unknown backup format {raw.get('format')!r}")
            return cls(**raw)
        except (ValueError, TypeError) as exc:
            if isinstance(exc, BadBackup):
                raise
            raise BadBackup("备份清单无法读取", f"the backup's manifest is unreadable: {exc}") from exc

    @property
    def taken_at(self) -> datetime:
        return datetime.fromisoformat(self.created_at)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write(target: Path, manifest: Manifest, payload: Path, key: bytes | None = None) -> str:
    """Writes the backup (sealed with `key` when one is given) beside its final name and renames it into place once
    it and its checksum are on disk, so a half-written file never carries a backup's name. Returns the whole file's
    SHA-256."""
    partial = target.with_name(f".{target.name}.partial")
    with partial.open("wb") as raw:
        out: BinaryIO = raw
        if key is not None:  # the tar goes through the seal as it is written: no clear copy on the backup's disk
            out = cast(BinaryIO, sealed.SealingWriter(raw, key))  # it buffers a chunk itself
        with tarfile.open(fileobj=out, mode="w|") as tar:
            info = tarfile.TarInfo(MANIFEST)
            body = manifest.to_json()
            info.size, info.mtime = len(body), int(manifest.taken_at.timestamp())
            tar.addfile(info, io.BytesIO(body))
            tar.add(payload, arcname=manifest.payload, recursive=False)
        out.close()
    _fsync(partial)
    whole = sha256_of(partial)
    sidecar = target.with_name(target.name + ".sha256")
    sidecar.write_text(f"{whole}  {target.name}\n", encoding="ascii")
    _fsync(sidecar)
    os.replace(partial, target)
    _fsync_dir(target.parent)
    return whole


@contextmanager
def _members(path: Path, key: bytes | None) -> Iterator[Iterator[tuple[tarfile.TarInfo, IO[bytes]]]]:
    """The tar's members in order, each with its content (read it before taking the next): a sealed file is
    opened as it is read, chunk by chunk, so it is read as a stream."""
    with path.open("rb") as f:
        head = f.read(len(sealed.MAGIC))
        f.seek(0)
        stream: BinaryIO = (io.BufferedReader(sealed.OpeningReader(f, key, path.name), CHUNK)
                            if head == sealed.MAGIC else f)
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                def each() -> Iterator[tuple[tarfile.TarInfo, IO[bytes]]]:
                    for member in tar:
                        content = tar.extractfile(member)
                        if content is not None:
                            yield member, content
                yield each()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise BadBackup(f"{path.name} 不是本系统的备份文件或已损坏",
                            f"{path.name} is not a Dingdian backup, or is damaged ({exc})") from exc


def read_manifest(path: Path, key: bytes | None = None) -> Manifest:
    with _members(path, key) as members:
        for member, content in members:
            if member.name == MANIFEST:
                return Manifest.from_json(content.read())
    raise BadBackup(f"{path.name} 不是本系统的备份文件（无 {MANIFEST}）", f"{path.name} is not a Dingdian backup "
                    f"(no {MANIFEST})")


def check_file(path: Path) -> str:
    """The whole file against its `.sha256` (when it is there); returns the file's SHA-256."""
    whole = sha256_of(path)
    sidecar = path.with_name(path.name + ".sha256")
    if sidecar.exists():
        expected = sidecar.read_text(encoding="ascii", errors="replace").split()[:1]
        if expected != [whole]:
            raise BadBackup(f"{path.name} 的校验值与 {sidecar.name} 不符，文件已被改动或损坏",
                            f"{path.name} does not match {sidecar.name}: the file was changed or damaged")
    return whole


def extract_payload(path: Path, manifest: Manifest, out: BinaryIO, key: bytes | None = None) -> None:
    """Copies the payload out, checking it against the manifest's SHA-256 and size."""
    digest, size, found = hashlib.sha256(), 0, False
    with _members(path, key) as members:
        for member, content in members:
            if member.name != manifest.payload:
                continue
            found = True
            while chunk := content.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            break
    if not found:
        raise BadBackup("备份中缺少数据库文件", f"the backup has no {manifest.payload}")
    if digest.hexdigest() != manifest.payload_sha256 or size != manifest.payload_bytes:
        raise BadBackup("备份中的数据库文件与清单的校验值不符，已损坏",
                        f"{manifest.payload} does not match the manifest's checksum: the backup is damaged")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
