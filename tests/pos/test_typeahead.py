"""Keys held behind a focus move are delivered in the order typed, whatever reached the queue meanwhile.

A stand-in app with the till's queue discipline: the terminal's keys and the keys posted again share one FIFO
queue, a refresh runs only when the queue is empty, the timer is fired by the test. The till's on_event is
modelled as pos/app.py has it: `holding`, else deliver to the focused field and `after`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from textual import events

from pos.typeahead import TypeAhead


class Field:
    def __init__(self, name: str) -> None:
        self.name, self.text = name, ""


class QueueApp:
    """The parts of a Textual App that TypeAhead uses, over one FIFO queue."""

    def __init__(self) -> None:
        self.queue: deque[events.Key] = deque()
        self.after_refresh: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self.timers: list[Callable[[], None]] = []
        self.screen = "login"
        self.user, self.pin, self.note = Field("user"), Field("pin"), Field("note")
        self.focused: Field = self.user
        self.typeahead = TypeAhead(self)

    # what TypeAhead calls
    def post_message(self, event: events.Key) -> None:
        self.queue.append(event)

    def call_after_refresh(self, callback: Callable[..., None], *args: Any) -> None:
        self.after_refresh.append((callback, args))

    def set_timer(self, _delay: float, callback: Callable[[], None]) -> None:
        self.timers.append(callback)

    # the till's on_event for keys
    def take(self, event: events.Key) -> None:
        if self.typeahead.holding(event):
            return
        focused = self.focused
        if event.key == "enter":  # moves to the next field (once its message is handled)
            self.focused = self.pin if focused is self.user else self.note
        elif event.character:
            focused.text += event.character
        self.typeahead.after(event, focused)

    def run(self, refresh_when_idle: bool = True) -> None:
        """Take every queued key; refresh (run the after-refresh callbacks) only once the queue is empty."""
        while self.queue or (refresh_when_idle and self.after_refresh):
            while self.queue:
                self.take(self.queue.popleft())
            if refresh_when_idle:
                callbacks, self.after_refresh = self.after_refresh, []
                for callback, args in callbacks:
                    callback(*args)


def key(text: str) -> events.Key:
    return events.Key("enter", None) if text == "\n" else events.Key(text, text)


def typed(app: QueueApp, text: str) -> None:
    for ch in text:
        app.post_message(key(ch))


def test_keys_typed_after_an_enter_reach_the_next_field_in_order() -> None:
    app = QueueApp()
    typed(app, "cashier1\n1111")
    app.run()
    assert (app.user.text, app.pin.text) == ("cashier1", "1111")


def test_keys_that_reach_the_queue_while_held_keys_are_posted_again_come_after_them() -> None:
    """The whole-day run's "harm1p": the timer lets the held "p" go while "harm1" waits in the queue."""
    app = QueueApp()
    typed(app, "u\np")
    while app.queue:  # the Enter and the "p" behind it are taken; no refresh has come yet
        app.take(app.queue.popleft())
    assert app.typeahead.held is not None and [e.key for e in app.typeahead.held] == ["p"]
    typed(app, "harm1")  # the terminal delivers the rest before the hold ends
    app.timers.pop()()  # HOLD_AT_MOST: the held "p" is posted again, behind "harm1"
    app.run()
    assert (app.user.text, app.pin.text) == ("u", "pharm1")


def test_a_posted_again_enter_that_moves_the_focus_holds_the_rest_and_the_late_keys_behind_it() -> None:
    app = QueueApp()
    typed(app, "u\n12\nxy")
    while app.queue:  # "12\nxy" held behind the first Enter
        app.take(app.queue.popleft())
    typed(app, "z")  # typed last, in the queue before the held keys are posted again
    app.timers.pop()()
    app.run()
    assert (app.user.text, app.pin.text, app.note.text) == ("u", "12", "xyz")
