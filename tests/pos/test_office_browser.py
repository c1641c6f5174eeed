"""The back office in the office PC's browser (#22): `dingdian office` (textual-serve) in a subprocess, a real headless
Chromium (Debian's chromium + chromium-driver, driven by selenium) opening its page, a person typing at it.

The manager logs in through the browser, opens the checklist from the back office's menu (F12), and the screenshot's
text — xterm.js's own, read from the page's accessibility tree (the DOM a screen reader reads) — shows every one of
the 26 CHECK items with a verdict. A cashier logging in through the browser is let into nothing: no checklist, no
month end, no sale (the post check); and the service refuses the checklist to that post whatever the page shows.

One service, one office server and one browser for the module (a browser costs seconds to start); each page load is
a new app process on the office server, as a second person at the office PC would get."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from reports.checklist.items import ITEMS
from server.config import ROOT
from server.db.engine import make_engine
from server.services.context import Ctx
from server.services.store.profile import bootstrap_store
from tests.conftest import ROLE_PINS, make_settings
from tests.pos.conftest import seed_till_shop
from tests.pos.live import LiveService
from tests.service import free_port

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("office_browser")]

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

# textual-serve's page keeps its xterm.js terminal in a closure. Before the page's script runs, this catches the
# object that holds it (the first to set `webglAddon`, which textual.js sets right after making the terminal) and
# turns on the terminal's screen-reader mode: xterm.js then keeps an accessibility tree, one DOM row per screen row,
# holding the text it draws on its canvas.
CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, 'webglAddon', {configurable: true, set(value) {
  Object.defineProperty(this, 'webglAddon', {value, writable: true, enumerable: true, configurable: true});
  if (this.terminal && !window.dingdianTerminal) {
    window.dingdianTerminal = this.terminal;
    this.terminal.options.screenReaderMode = true;
  }
}});
"""
SCREEN_TEXT = "const t = document.querySelector('.xterm-accessibility-tree'); return t ? t.innerText : '';"


class Office:
    def __init__(self, url: str, service: str, browser: WebDriver, shots: Path) -> None:
        self.url, self.service, self.browser, self.shots = url, service, browser, shots
        self.db = shots / "dingdian.db"
        self.downloads = shots / "downloads"
        self.downloads.mkdir()
        browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow",
                                                                "downloadPath": str(self.downloads)})

    def open(self) -> None:
        """The page anew: a new app process on the office server, at its login."""
        self.browser.get(self.url)
        self.wait_for(lambda s: "后台登录" in s, "the back office's login")

    def back_to_the_page(self) -> None:
        page = self.browser.window_handles[0]
        for handle in self.browser.window_handles[1:]:
            self.browser.switch_to.window(handle)
            self.browser.close()
        self.browser.switch_to.window(page)

    def text(self) -> str:
        return str(self.browser.execute_script(SCREEN_TEXT))

    def until(self, done: Callable[[], bool], what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
            time.sleep(0.1)

    def wait_for(self, seen: Callable[[str], bool], what: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.text()
            if seen(shown):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not on the page:\n{shown}")
            time.sleep(0.1)

    def keys(self, *keys: str) -> None:
        """Typed at the terminal as a person types (xterm.js's input field has the focus)."""
        field = self.browser.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")
        for k in keys:
            field.send_keys(k)
            time.sleep(0.15)  # a person's next key comes a moment later (the login moves to the PIN on Enter)

    def log_in(self, username: str, pin: str) -> None:
        self.keys(username, Keys.ENTER)
        self.wait_for(lambda s: "密码" in s, "the PIN field")
        self.keys(pin, Keys.ENTER)

    def sessions(self, username: str) -> list[tuple[int | None, bool]]:
        """The person's sessions at the service: (its till, whether it has ended)."""
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            return [(till, ended is not None) for till, ended in conn.execute(
                "SELECT s.till_id, s.revoked_at FROM auth_session s JOIN app_user u ON u.id = s.user_id "
                "WHERE u.username = ? ORDER BY s.id", (username,))]

    def screenshot(self, name: str) -> Image.Image:
        png = self.browser.get_screenshot_as_png()
        (self.shots / f"{name}.png").write_bytes(png)
        if keep := os.environ.get("DINGDIAN_TEST_SHOTS"):  # to look at them after the run
            (Path(keep) / f"{name}.png").write_bytes(png)
        return Image.open(BytesIO(png))


def _browser() -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--lang=zh-CN"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(DRIVER), options=options)
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CATCH_TERMINAL})
    return browser


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Office]:
    assert shutil.which(CHROMIUM) and shutil.which(DRIVER), "make test installs chromium and chromium-driver"
    folder = tmp_path_factory.mktemp("office-web")
    shutil.copy(sqlite_template, folder / "dingdian.db")
    url = f"sqlite:///{folder / 'dingdian.db'}"
    settings = make_settings(url, till={"code": "T01", "export_dir": str(folder / "exports")})
    engine = make_engine(url)
    seed_till_shop(engine, Ctx(bootstrap_store(engine, settings), settings))
    engine.dispose()
    live = LiveService(settings).start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DINGDIAN_")} | {
        "DINGDIAN_DATABASE__URL": url, "DINGDIAN_SERVICE__PORT": str(live.port), "DINGDIAN_OFFICE__PORT": str(port),
        "DINGDIAN_TILL__EXPORT_DIR": str(folder / "exports")}
    log = (folder / "office.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "server.cli", "office"], cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    browser = None
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, (folder / "office.log").read_text()
            time.sleep(0.1)
        browser = _browser()
        yield Office(f"http://127.0.0.1:{port}/", live.base, browser, folder)
    finally:
        if browser is not None:
            browser.quit()
        server.terminate()  # textual-serve ends the app processes it started
        server.wait(timeout=15)
        log.close()
        live.stop()


def test_the_manager_opens_the_checklist_in_the_browser_and_its_26_items_are_read_back(office: Office) -> None:
    office.open()
    shown = office.text()
    assert "收款机" not in shown  # the back office alone: no till is named, none is used
    office.log_in("u_manager", ROLE_PINS["manager"])
    shown = office.wait_for(lambda s: "F12 合规检查" in s, "the back office's menu")
    assert "月结报表" in shown and "后台（浏览器）" in shown
    office.keys(Keys.F12)
    # the run's title, and F5/F6 in the footer once there is a run to keep as a file
    shown = office.wait_for(lambda s: "共 26 项" in s and "F5存XLSX" in s and "F6存PDF" in s, "the checklist's 26 items")
    image = office.screenshot("checklist")
    shades = image.convert("L").getcolors(256)  # None: more than 256 shades
    assert image.size[0] >= 1000 and (shades is None or len(shades) > 8), "the screenshot shows the terminal drawn"

    rows = [line for line in shown.splitlines() if line.strip()]
    for item in ITEMS:  # each item on its own row: its number, the start of its title, and a verdict
        row = next((r for r in rows if r.split()[:1] == [str(item.no)] and item.title_zh[:6] in r), None)
        assert row is not None, f"item {item.no} ({item.title_zh}) not on the page:\n{shown}"
        assert any(v in row for v in ("合格", "不合格", "需人工确认")), row

    # F5 keeps it as XLSX: the browser downloads the service's file (the office PC has no till's export folder)
    office.keys(Keys.F5)
    office.until(lambda: any(office.downloads.glob("checklist-*.xlsx")), "the XLSX downloaded")
    assert next(office.downloads.glob("checklist-*.xlsx")).read_bytes()[:2] == b"PK"
    office.back_to_the_page()  # textual-serve opened the download in a tab of its own
    office.wait_for(lambda s: "已下载到浏览器" in s, "the download said")

    # The tab closed (here: loaded anew), its app quits and the session ends with it, at the service
    office.open()
    office.until(lambda: office.sessions("u_manager") == [(None, True)], "the session ended with the tab")

    # Esc leaves the back office for its login, never for a till's sale screen
    office.log_in("u_manager", ROLE_PINS["manager"])
    office.wait_for(lambda s: "F12 合规检查" in s, "the back office's menu")
    office.keys(Keys.ESCAPE)
    shown = office.wait_for(lambda s: "已退出登录" in s, "the login after logging out")
    assert "后台登录" in shown and "F2收款" not in shown
    assert office.sessions("u_manager") == [(None, True), (None, True)]  # at no till, and ended at the service


@pytest.mark.refuses("SEC-01")
def test_a_cashier_logging_in_through_the_browser_gets_no_checklist_and_no_month_end(office: Office) -> None:
    office.open()
    office.log_in("u_cashier", ROLE_PINS["cashier"])
    shown = office.wait_for(lambda s: "本岗位没有后台功能" in s, "the refusal")
    office.screenshot("cashier-refused")
    assert "Your post has no back office" in shown  # both languages
    for reached in ("合规检查", "月结报表", "上传与对账", "F2收款", "共 26 项"):
        assert reached not in shown, shown
    office.keys(Keys.F12)  # the menu's key at the login does nothing
    time.sleep(0.5)
    assert "共 26 项" not in office.text()

    assert office.sessions("u_cashier") == [(None, True)]  # the session the login opened is ended at once

    # What the page does not offer, the service refuses too: the checklist is not the cashier's post.
    with httpx.Client(base_url=office.service) as http:
        token = http.post("/auth/login", json={"username": "u_cashier", "pin": ROLE_PINS["cashier"]}).json()["token"]
        refused = http.get("/checklist", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403, refused.text
