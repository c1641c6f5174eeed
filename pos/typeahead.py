"""Keys typed ahead while the focus moves go where the focus lands, never into the field being left.

A cashier types without looking: the username, Enter, the PIN at once; F8 and the reason straight after. Textual
hands each key to the widget focused when the app takes it from its queue, and a field's Enter moves the focus
only once its Submitted message has been handled (a screen pushed, a field focused) — so the keys right behind the
Enter would land in the field being left: a PIN typed into the username box, in clear. The app therefore holds the
keys that follow a key that may move the focus (Enter, Tab, Esc, an F-key, a Ctrl key) until the focus has
settled: moved, or still where it was after a few refreshes. Then they are posted again, in order, and reach
whatever has the focus then (a key that moves the focus again holds the rest behind it); while a screen comes up
with no focus yet, they wait for it. A dialog that closes
while they are held (its service call still out) hands them to the screen under it, or they are dropped by a
widget that does not take keys; never into another field than the one focused when they are delivered.

Posted again, the held keys go to the back of the app's queue, behind any key the terminal delivered in the
meantime: those wait behind them (`_replaying`, `_behind`), so the order typed is the order delivered — "pharm1"
typed fast after an Enter never arrives as "harm1p".

A field that takes its Enter itself and keeps the focus (the scan field: `KEEPS_FOCUS_ON_ENTER`) holds nothing
behind its Enter, so a scanner's burst of codes goes straight on.
"""

from __future__ import annotations

from typing import Any

from textual import events

SETTLE_REFRESHES = 3  # refreshes with the focus unmoved after which it will not move for this key
HOLD_AT_MOST = 0.5  # seconds: if no refresh comes, the keys are let go anyway
# Keys that stay in the field they are typed in
_IN_FIELD = frozenset({"backspace", "delete", "left", "right", "up", "down", "home", "end", "space"})


def may_move_focus(event: events.Key) -> bool:
    return not event.is_printable and event.key not in _IN_FIELD


class TypeAhead:
    """The held keys of one app (pos/app.py calls `take` for each key it is given)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.held: list[events.Key] | None = None
        self._where: tuple[Any, Any] = (None, None)
        self._round = 0
        self._generation = 0
        self._replaying: list[events.Key] = []  # posted again, in order, not yet back from the queue
        self._behind: list[events.Key] = []  # keys that came out of the queue before them

    def holding(self, event: events.Key) -> bool:
        """True when `event` is held (the app does not handle it now)."""
        if self._replaying:
            if event is not self._replaying[0]:
                self._behind.append(event)  # typed after the held keys: it waits for them
                return True
            self._replaying.pop(0)
            held_again = self.held is not None  # behind a replayed key that moved the focus again
            if self.held is not None:
                self.held.append(event)
            if not self._replaying and self._behind:
                behind, self._behind = self._behind, []
                if self.held is not None:
                    self.held.extend(behind)
                else:
                    self._post(behind)
            return held_again
        if self.held is None:
            return False
        self.held.append(event)
        return True

    def after(self, event: events.Key, focused: Any) -> None:
        """`event` was handled (`focused` had the focus when it came): if it may move the focus, hold what follows
        until the focus settles."""
        if not may_move_focus(event):
            return
        if event.key == "enter" and getattr(focused, "KEEPS_FOCUS_ON_ENTER", False):
            return
        self.held, self._round = [], 0
        self._generation += 1
        self._where = (self.app.screen, self.app.focused)
        generation = self._generation
        self.app.call_after_refresh(self._settle, generation)
        self.app.set_timer(HOLD_AT_MOST, lambda: self._release(generation))

    def _settle(self, generation: int) -> None:
        if generation != self._generation or self.held is None:
            return
        self._round += 1
        focused = self.app.focused
        moved = focused is not None and (self.app.screen, focused) != self._where  # landed somewhere new
        unmoved = (self.app.screen, focused) == self._where and self._round >= SETTLE_REFRESHES
        if moved or unmoved:  # else: a screen is coming up, its focus not set yet (or the timer lets go)
            self._release(generation)
        else:
            self.app.call_after_refresh(self._settle, generation)

    def _release(self, generation: int) -> None:
        if generation != self._generation or self.held is None:
            return
        if self._replaying:  # keys posted earlier are still in the queue, typed before these: they come first
            self.app.call_after_refresh(self._release, generation)
            return
        held, self.held = self.held, None
        self._post(held)

    def _post(self, events_: list[events.Key]) -> None:
        self._replaying.extend(events_)
        for event in events_:
            self.app.post_message(event)
