"""A backup file: `dingdian-<store>-<UTC stamp>.tar` holding `manifest.json` and the payload (the SQLite file
gzip-compressed, or PostgreSQL's custom-format dump), with `<file>.sha256` beside it in `sha256sum` format.

The manifest is what a restore is verified against: the schema head, every table's row count and each store's
audit chain head, all read from the same snapshot the payload was taken from.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

FORMAT = 1
MANIFEST = "manifest.json"
PAYLOAD = {"sqlite": "database.sqlite3.gz", "postgresql": "database.pgdump"}
CHUNK = 1 << 20


class BadBackup(ValueError):
    """Not a backup this program wrote, or one that changed since: message_zh / message_en say which."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.message_zh, self.message_en = message_zh, message_en


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


def write(target: Path, manifest: Manifest, payload: Path) -> str:
    """Writes the backup beside its final name and renames it into place once it and its checksum are on disk, so
    a half-written file never carries a backup's name. Returns the whole file's SHA-256."""
    partial = target.with_name(f".{target.name}.partial")
    with tarfile.open(partial, "w") as tar:
        info = tarfile.TarInfo(MANIFEST)
        body = manifest.to_json()
        info.size, info.mtime = len(body), int(manifest.taken_at.timestamp())
        tar.addfile(info, io.BytesIO(body))
        tar.add(payload, arcname=manifest.payload, recursive=False)
    _fsync(partial)
    whole = sha256_of(partial)
    sidecar = target.with_name(target.name + ".sha256")
    sidecar.write_text(f"{whole}  {target.name}\n", encoding="ascii")
    _fsync(sidecar)
    os.replace(partial, target)
    _fsync_dir(target.parent)
    return whole


def read_manifest(path: Path) -> Manifest:
    try:
        with tarfile.open(path, "r") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            return Manifest.from_json(member.read())
    except (tarfile.TarError, KeyError, OSError) as exc:
        raise BadBackup(f"{path.name} 不是本系统的备份文件", f"{path.name} is not a Dingdian backup ({exc})") from exc


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


def extract_payload(path: Path, manifest: Manifest, out: BinaryIO) -> None:
    """Copies the payload out, checking it against the manifest's SHA-256 and size."""
    digest, size = hashlib.sha256(), 0
    with tarfile.open(path, "r") as tar:
        member = tar.extractfile(manifest.payload)
        if member is None:
            raise BadBackup("备份中缺少数据库文件", f"the backup has no {manifest.payload}")
        while chunk := member.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
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
