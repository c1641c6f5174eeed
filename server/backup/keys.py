"""The backup key (`[backup] key_file`): read from a file outside the backup directory, so whoever copies the
backups has not also copied what opens them."""

from __future__ import annotations

from pathlib import Path

from server.backup import sealed
from server.errors import AppError


def _refused(path: Path, why_zh: str, why_en: str) -> AppError:
    return AppError(422, "SEC-05", f"备份密钥文件 {path} 不可用：{why_zh}", f"backup key file {path}: {why_en}",
                    {"key_file": str(path)})


def load(key_file: str | Path, backup_dir: Path | None = None) -> bytes | None:
    """The key (None when none is configured); refused when unreadable, not a key, or inside `backup_dir`."""
    if not str(key_file):
        return None
    path = check_apart(Path(key_file), backup_dir)
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise _refused(path, f"无法读取（{exc}）", f"cannot be read ({exc})") from exc
    try:
        return sealed.parse_key(text)
    except ValueError:
        raise _refused(path, "不是备份密钥（应为 base64 的 256 位密钥）", "is not a backup key (a 256-bit key in "
                       "base64)") from None


def check_apart(key_file: Path, backup_dir: Path | None) -> Path:
    """The key file's resolved path, refused when it lies in the backup directory."""
    path = key_file.expanduser().resolve()
    if backup_dir is not None and path.is_relative_to(backup_dir.expanduser().resolve()):
        raise _refused(path, "位于备份目录中，拿到备份的人也就拿到了密钥", "lies in the backup directory: whoever "
                       "copies the backups would have their key too")
    return path


def create(path: Path) -> bytes:
    """A new key written to `path` (never over an existing file), readable by its owner only."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = sealed.new_key()
    try:
        fd = path.open("x", encoding="ascii")
    except FileExistsError:
        raise _refused(path, "已存在，不覆盖（旧备份需要它）", "exists and is not overwritten (older backups need "
                       "it)") from None
    with fd:
        path.chmod(0o600)
        fd.write(sealed.key_text(key))
    return key
