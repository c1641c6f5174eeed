"""A serial scanner for the tests: the test holds the pty master and "scans" by writing bytes to it; the
driver opens a stable link to the slave, the way a store configures /dev/serial/by-id/… . Unplugging
closes the master and removes the link (udev does the same); plugging in makes a new pty behind the link."""

from __future__ import annotations

import os
from pathlib import Path


class PluggableScanner:
    def __init__(self, link: Path) -> None:
        self.link = link
        self.master: int | None = None
        self.plug()

    def plug(self) -> None:
        master, slave = os.openpty()
        path = os.ttyname(slave)
        os.close(slave)
        if self.link.is_symlink():
            self.link.unlink()
        self.link.symlink_to(path)
        self.master = master

    def unplug(self) -> None:
        assert self.master is not None
        os.close(self.master)
        self.master = None
        self.link.unlink()

    def write(self, data: bytes) -> None:
        """All of `data`, at full speed (a pty takes what the reader has room for, then blocks)."""
        assert self.master is not None
        view = memoryview(data)
        while view:
            n = os.write(self.master, view)
            view = view[n:]

    def close(self) -> None:
        if self.master is not None:
            self.unplug()

