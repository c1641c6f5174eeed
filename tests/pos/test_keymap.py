"""Every key of the till is declared once (pos/keymap.py): each screen's bindings are its keymap's, and the help
(F1) generated from the keymap lists every binding of the screen it was opened from — and nothing else."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
from typing import Any

import pytest
from rich.cells import cell_len
from textual.app import App
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

import pos.screens
from pos import keymap
from pos.codes import SCAN_HELP
from pos.keymap import Keymap
from pos.screens.help import HelpScreen, help_text
from pos.screens.office import OfficeScreen
from pos.screens.task import TaskScreen

FRAMEWORK = {key for key, _ in Screen._merge_bindings()} | {key for key, _ in ModalScreen._merge_bindings()}
BASES = {TaskScreen, OfficeScreen}  # shared by the task / back-office screens, never shown itself


def till_screens() -> list[type[Screen]]:
    found = []
    for module in pkgutil.iter_modules(pos.screens.__path__):
        mod = importlib.import_module(f"pos.screens.{module.name}")
        found += [cls for cls in vars(mod).values() if inspect.isclass(cls) and issubclass(cls, Screen)
                  and cls.__module__ == mod.__name__ and cls not in BASES]
    return sorted(found, key=lambda cls: cls.__name__)


def bindings_of(screen: type[Screen]) -> list[tuple[str, Binding]]:
    """What the screen binds as Textual merges it (its own and inherited), without Textual's own focus/copy keys."""
    return [(key, b) for key, b in screen._merge_bindings() if key not in FRAMEWORK]  # private, but the truth


def with_help(screen: type[Screen]) -> bool:
    return any(b.action == "help" for _, b in bindings_of(screen))


SCREENS = till_screens()
HELPED = [screen for screen in SCREENS if with_help(screen)]


def test_the_till_s_screens_are_all_found() -> None:
    names = {screen.__name__ for screen in SCREENS}
    assert {"SaleScreen", "CardScreen", "PrescriptionScreen", "ReturnScreen", "LoginScreen", "PaymentScreen",
            "HelpScreen"} <= names
    assert {screen.__name__ for screen in HELPED} == {"SaleScreen", "CardScreen", "PrescriptionScreen", "ReturnScreen",
                                                      "BackOfficeScreen", "ReceivingScreen", "CountScreen",
                                                      "MonthEndScreen", "UploadsScreen", "SupplierReturnScreen",
                                                      "TransferScreen", "LossScreen", "RecallScreen", "UpkeepScreen",
                                                      "NearExpiryScreen", "ChecklistScreen", "OfficeMenuScreen"}


def keymap_of(screen: type[Screen[Any]]) -> Keymap:
    """The keymap a screen declares as KEYS (each screen's own attribute, not Textual's)."""
    keys = getattr(screen, "KEYS", None)
    assert isinstance(keys, Keymap), f"{screen.__name__} declares no KEYS"
    return keys


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: s.__name__)
def test_a_screen_binds_exactly_its_keymap(screen: type[Screen]) -> None:
    keys = keymap_of(screen)
    declared = [b for b in keys.bindings() if isinstance(b, Binding)]
    assert len(declared) == len(keys.bindings())
    bound = [b for _, b in bindings_of(screen)]
    # One Binding may stand for several keys ("plus,equals_sign"): Textual splits it, one per key.
    assert sorted((b.action, b.description) for b in bound) == sorted(
        (b.action, b.description) for b in declared for _ in b.key.split(","))
    assert {(key, b.action) for key, b in bindings_of(screen)} == {
        (k, b.action) for b in declared for k in b.key.split(",")}


@pytest.mark.parametrize("screen", HELPED, ids=lambda s: s.__name__)
def test_every_binding_of_a_screen_is_in_its_help_and_every_key_in_the_help_is_bound(screen: type[Screen]) -> None:
    keys = keymap_of(screen)
    text = help_text(keys)
    bound = {(key, b.action) for key, b in bindings_of(screen)}
    in_help = set()
    for entry in keys.keys():
        assert str(entry) in text, f"{entry} is not in the help of {screen.__name__}"
        for b in entry.bindings:
            for key in b.key.split(","):
                assert keymap.key_name(key) in entry.shown, (key, entry.shown)
                in_help.add((key, b.action))
    assert in_help == bound  # the help lists every binding, and every key it lists is bound


def test_the_sale_help_says_where_each_kind_of_code_goes() -> None:
    text = help_text(keymap.SALE)
    assert all(words in text for words in SCAN_HELP.values())
    assert "F2 收款" in text and "Ctrl+G 药师在岗/离岗" in text and "↑↓ 选择商品行" in text


@pytest.mark.parametrize("screen", HELPED, ids=lambda s: s.__name__)
def test_keys_side_by_side_fit_the_dialog(screen: type[Screen]) -> None:
    keys = keymap_of(screen)
    for line in help_text(keys).splitlines():
        if sum(str(entry) in line for entry in keys.keys()) > 1:  # one long key alone on its line may wrap
            assert cell_len(line) <= 72, line


@pytest.mark.parametrize("screen", HELPED, ids=lambda s: s.__name__)
def test_the_help_screen_shows_the_generated_text(screen: type[Screen]) -> None:
    keys = keymap_of(screen)

    async def body() -> None:
        app: App[None] = App()
        async with app.run_test(size=(80, 24)) as pilot:
            app.push_screen(HelpScreen(keys))
            await pilot.pause()
            assert str(app.screen.query_one("#keys", Static).render()) == help_text(keys)
            await pilot.press("f1")  # F1 again closes it, as Esc does
            await pilot.pause()
            assert not isinstance(app.screen, HelpScreen)

    asyncio.run(body())


def test_the_readme_names_the_sale_keys_as_the_footer_does() -> None:
    """README and footer agree: every key of the sale screen appears in the README with its footer label."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for entry in keymap.SALE.keys():
        for b in entry.bindings:
            if b.key in ("up", "down", "escape"):
                continue
            assert f"{keymap.key_name(b.key.split(',')[0])} {b.description}" in readme, (b.key, b.description)
