"""The one error a backup file's reader raises (the archive's and the sealed stream's)."""

from __future__ import annotations


class BadBackup(ValueError):
    """Not a backup this program wrote, or one that changed since: message_zh / message_en say which."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.message_zh, self.message_en = message_zh, message_en
