"""F3 医保结算 at the till against the real service and a real sandbox centre: sign-in from the till, a card
inserted in the reader offered and used, a mixed basket split (card lines / self-pay with the rule), the 2101
figures shown before confirming, the rest paid in cash and settled — then the service's ledger and the
centre's own ledger agree. A scanned e-voucher goes to the card flow and the centre's refusal is shown with its
code, the token never on screen. One snapshot: the preview at 80×24."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from textual.pilot import Pilot
from textual.widgets import DataTable, Digits, Input

from pos.screens.card import CardScreen
from pos.screens.help import HelpScreen
from server.config import Settings
from server.db.models.base import id_of
from server.devices import DeviceManager
from server.insurance.sandbox.client import SandboxAdmin
from server.services.context import Ctx
from tests.conftest import BARCODE_MASK, BARCODE_VITC, ROLE_PINS, make_settings
from tests.insurance.conftest import EMPLOYEE
from tests.pos.card_shop import make_card_ready
from tests.pos.helpers import SIZE, log_in, message, popup, scan, settled, status, till, till_of, type_text, until
from tests.pos.live import LiveService

pytestmark = pytest.mark.slow
SnapCompare = Callable[..., bool]
VOUCHER = "ECQR" + "9F8E7D6C5B4A39281706F5E4"  # a well-formed e-voucher scan no insured person holds


@pytest.fixture
def settings(db_url: str, sandbox_url: str) -> Settings:
    return make_settings(db_url, insurance={"url": sandbox_url, "timeout_seconds": 2})


@pytest.fixture
def reader(live: LiveService, settings: Settings, engine: Engine, ctx: Ctx) -> Iterator[DeviceManager]:
    """The till's devices as `dingdian serve` runs them (the in-process service starts without its lifespan)."""
    state = live.app.state.dingdian
    devices = state.devices = DeviceManager(settings, state.events, engine, ctx.store_id)
    devices.start()
    yield devices
    devices.stop()


def ledger(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {"sales": conn.execute(text("SELECT id, status, total_fen, change_fen FROM sale")).all(),
                "tenders": sorted(tuple(r) for r in conn.execute(text("SELECT kind, amount_fen, reference FROM tender"))),
                "settlements": conn.execute(text("SELECT sale_id, status, medfee_sumamt_fen, fund_pay_fen, acct_pay_fen, "
                                                 "cash_pay_fen, setl_id FROM card_settlement")).all()}


async def identify_typed(pilot: Pilot[Any], card: CardScreen) -> None:
    """F5, the 职工's card number and 卡识别码 typed, and the split shown."""
    await pilot.press("f5")
    await type_text(pilot, EMPLOYEE.card_no, "enter")
    await type_text(pilot, EMPLOYEE.card_sn, "enter")
    await until(pilot, lambda: card.step == "split", what="the split")


def screen_text(screen: Any) -> str:
    return " ".join(str(w.render()) for w in screen.query("Static, Label"))


@pytest.mark.refuses("CARD-02")
def test_a_card_sale_is_identified_by_the_reader_split_previewed_and_settled(
        live: LiveService, reader: DeviceManager, sandbox: SandboxAdmin, settings: Settings, engine: Engine,
        ctx: Ctx) -> None:
    make_card_ready(live.base, engine, ctx)

    async def body() -> None:
        app = till(settings, live.base)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await settled(pilot, sale)
            assert "医保✕未签到" in status(app) and "Ctrl+Y" in message(sale)  # the sign-in is offered
            await pilot.press("ctrl+y")
            await settled(pilot, sale)
            await until(pilot, lambda: "医保✓已签到" in status(app), what="the sign-in shown")
            assert [s["opter"] for s in sandbox.sign_ins()] == ["u_cashier"]

            for code in (BARCODE_VITC, BARCODE_VITC, BARCODE_MASK):
                await scan(pilot, code)
            await settled(pilot, sale)

            # A scanned e-voucher opens the card flow with it; the centre knows no one by it: its refusal, coded
            await scan(pilot, VOUCHER)
            card: CardScreen = await popup(pilot, CardScreen)
            await until(pilot, lambda: "INS-REFUSED" in message(card, "#card-message"), what="the centre's refusal")
            assert VOUCHER not in screen_text(card) and VOUCHER not in screen_text(sale)  # a credential: never shown
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is sale, what="Esc back to the sale")

            reader.insert_demo_card("employee")  # the card reader's event reaches the till: it is offered
            await until(pilot, lambda: "读到社保卡" in message(sale) and EMPLOYEE.name in message(sale), what="the offer")
            await pilot.press("f3")
            card = await popup(pilot, CardScreen)
            assert "读卡器中" in message(card, "#card-message")
            await pilot.press("enter")
            await until(pilot, lambda: card.step == "split", what="the split")
            head = str(card.query_one("#card-head").render())
            assert EMPLOYEE.name in head and "职工基本医疗保险" in head and "856.40" in head
            assert EMPLOYEE.certno not in screen_text(card) and EMPLOYEE.certno[-4:] in head  # masked
            rows = [[str(c) for c in card.query_one("#card-lines", DataTable).get_row_at(i)] for i in range(2)]
            assert rows[0][1:4] == ["维生素C片", "7.00", "医保"]
            assert rows[1][1:4] == ["医用外科口罩", "9.90", "自费"] and rows[1][4].startswith("CARD-02")

            await pilot.press("f2")  # 2101: the figures before anything is booked
            await until(pilot, lambda: card.step == "preview", what="the preview")
            pre = card.preview
            assert pre is not None and sandbox.settlements() == []
            shown = {k: card.query_one(f"#{k}", Digits).value for k in ("fund", "acct", "cash", "due")}
            assert shown == {"fund": f"{pre['fund_pay_fen'] / 100:.2f}", "acct": f"{pre['acct_pay_fen'] / 100:.2f}",
                             "cash": f"{pre['due_otherwise_fen'] / 100:.2f}", "due": f"{pre['due_otherwise_fen'] / 100:.2f}"}
            # the self-pay 口罩 is inside 个人现金, and said so
            assert str(card.query_one("#cash-label").render()) == "个人现金（含自费 9.90）"
            assert pre["fund_pay_fen"] + pre["acct_pay_fen"] + pre["cash_pay_fen"] == 700
            assert pre["due_otherwise_fen"] == pre["cash_pay_fen"] + 990 and pre["fund_pay_fen"] > 0

            await pilot.press("escape")  # one step back: the split, nothing booked; then the preview again
            await until(pilot, lambda: card.step == "split", what="back to the split")
            await pilot.press("enter")
            await until(pilot, lambda: card.step == "preview", what="the preview again")
            await pilot.press("f4")  # CARD-05: the insured person signed the paper purchase list
            await until(pilot, lambda: "签字确认" in message(card, "#card-message"), what="the signature recorded")
            await type_text(pilot, "50", "enter")
            await until(pilot, lambda: card.step == "done", what="the settlement")
            done = card.done
            assert done is not None and done["status"] == "completed"
            change = 5000 - pre["due_otherwise_fen"]
            assert card.query_one("#due", Digits).value == f"{change / 100:.2f}"
            await pilot.press("enter")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")
            assert done["sale_no"] in message(sale) and f"{change / 100:.2f}" in message(sale)

        book = ledger(engine)
        (row,) = book["sales"]
        assert (row.status, row.total_fen, row.change_fen) == ("completed", 1690, change)
        (setl,) = book["settlements"]
        assert setl.status == "settled" and setl.medfee_sumamt_fen == 700
        with engine.connect() as conn:
            assert conn.execute(text("SELECT signed_how FROM sale_insured")).scalar() == "key"
        card_fen = setl.fund_pay_fen + setl.acct_pay_fen
        assert book["tenders"] == sorted([("cash", pre["due_otherwise_fen"], ""), ("insurance", card_fen, setl.setl_id)])
        (centre,) = [r for r in sandbox.settlements() if r["status"] == "active"]
        assert centre["setl_id"] == setl.setl_id and centre["medfee_fen"] == 700

    asyncio.run(body())


@pytest.mark.refuses("CARD-02")
def test_a_basket_the_card_may_not_pay_is_refused_with_its_rule(live: LiveService, sandbox: SandboxAdmin,
                                                                settings: Settings, engine: Engine, ctx: Ctx) -> None:
    """CARD-02: a device alone goes to the card flow, the service refuses the preview; cash goes on."""
    make_card_ready(live.base, engine, ctx, sign_in="cashier")

    async def body() -> None:
        app = till(settings, live.base)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await scan(pilot, BARCODE_MASK)
            await settled(pilot, sale)
            await pilot.press("f3")
            card: CardScreen = await popup(pilot, CardScreen)
            await pilot.press("f1")  # the card flow's own keys
            await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
            keys = app.screen
            assert "F9 向医保中心冲正确认" in message(keys, "#keys") and "F7 身份证号" in message(keys, "#keys")
            await pilot.press("escape")
            await popup(pilot, CardScreen)
            await identify_typed(pilot, card)  # typed: card number, then 卡识别码
            await pilot.press("f2")
            await until(pilot, lambda: "CARD-02" in message(card, "#card-message"), what="the refusal")
            assert card.step == "split" and "[CARD-02]" in message(card, "#card-message")
            await pilot.press("escape", "escape")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")
            assert sale.sale is not None and sale.sale["status"] == "open"  # the sale goes on, to be paid otherwise
        assert sandbox.settlements() == []

    asyncio.run(body())


def test_card_preview_screen(snap_compare: SnapCompare, live: LiveService, sandbox: SandboxAdmin, settings: Settings,
                             engine: Engine, ctx: Ctx) -> None:
    make_card_ready(live.base, engine, ctx, sign_in="cashier")

    async def previewed(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: till_of(pilot).client.connected is True, what="the service")
        sale = await log_in(pilot)
        await until(pilot, lambda: "医保✓" in status(pilot.app), what="the sign-in")
        for code in (BARCODE_VITC, BARCODE_VITC, BARCODE_MASK):
            await scan(pilot, code)
        await settled(pilot, sale)
        await pilot.press("f3")
        card: CardScreen = await popup(pilot, CardScreen)
        await identify_typed(pilot, card)  # typed: card number, then 卡识别码
        await pilot.press("f2")
        await until(pilot, lambda: card.step == "preview", what="the preview")
        await pilot.pause()

    assert snap_compare(till(settings, live.base), terminal_size=(80, 24), run_before=previewed)


def test_an_uncertain_settlement_is_shown_plainly_resolved_with_f9_and_settled_once(
        live: LiveService, sandbox: SandboxAdmin, settings: Settings, engine: Engine, ctx: Ctx) -> None:
    """SETTLE-UNCERTAIN: 2102's answer lost and the immediate 2601 refused — the till says so and holds the sale;
    F9 reverses it, and the sale is then settled once: one active settlement in the centre, one in the service."""
    make_card_ready(live.base, engine, ctx, sign_in="cashier")

    async def body() -> None:
        app = till(settings, live.base)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)
            await pilot.press("f3")
            card: CardScreen = await popup(pilot, CardScreen)
            await identify_typed(pilot, card)  # typed: card number, then 卡识别码
            await pilot.press("f2")
            await until(pilot, lambda: card.step == "preview", what="the preview")
            assert card.preview is not None
            due = card.preview["due_otherwise_fen"]
            sandbox.inject("drop", "2102")  # booked by the centre, the answer lost ...
            sandbox.inject("error", "2601", err_msg="中心繁忙")  # ... and the reversal refused once
            await type_text(pilot, "10", "enter")
            await until(pilot, lambda: card.step == "uncertain", timeout=20, what="the uncertain state")
            shown = message(card, "#card-message")
            assert "SETTLE-UNCERTAIN" in shown and "F9" in shown
            await pilot.press("escape")  # leaving is not one key away: the sale stays locked until resolved
            assert card.step == "uncertain" and app.screen is card and "再按 Esc" in message(card, "#card-message")
            await pilot.press("f9")
            await until(pilot, lambda: card.step == "split" and "已冲正" in message(card, "#card-message"),
                        what="the reversal")
            assert [r["status"] for r in sandbox.settlements()] != ["active"]  # reversed in the centre
            await pilot.press("f2")
            await until(pilot, lambda: card.step == "preview", what="the preview again")
            await type_text(pilot, "10", "enter")
            await until(pilot, lambda: card.step == "done", what="the settlement")
            change = 1000 - due if due else 0  # nothing due: no cash taken, no change
            assert card.query_one("#due", Digits).value == f"{change / 100:.2f}"

        book = ledger(engine)
        assert [(r.status, r.medfee_sumamt_fen) for r in book["settlements"]] == [("reversed", 350), ("settled", 350)]
        (settled_row,) = [r for r in book["settlements"] if r.status == "settled"]
        (centre,) = [r for r in sandbox.settlements() if r["status"] == "active" and not int(r.get("refd_setl_flag", 0))]
        assert centre["setl_id"] == settled_row.setl_id
        assert [r.status for r in book["sales"]] == ["completed"]

    asyncio.run(body())


def test_a_settlement_reversed_on_its_own_is_told_to_the_cashier_in_plain_words(
        live: LiveService, sandbox: SandboxAdmin, settings: Settings, engine: Engine, ctx: Ctx) -> None:
    """2102 booked by the centre, its answer lost; the service takes it back at once (2601). The till says so in
    words: reversed, nothing taken from the card, and what to do next — the split shown again, the sale open."""
    make_card_ready(live.base, engine, ctx, sign_in="cashier")

    async def body() -> None:
        app = till(settings, live.base)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)
            await pilot.press("f3")
            card: CardScreen = await popup(pilot, CardScreen)
            await identify_typed(pilot, card)
            await pilot.press("f2")
            await until(pilot, lambda: card.step == "preview", what="the preview")
            sandbox.inject("drop", "2102")  # booked, the answer cut off: the service reverses it (2601 answers)
            await type_text(pilot, "10", "enter")
            await until(pilot, lambda: "已自动冲正" in message(card, "#card-message"), timeout=20, what="the reversal said")
            shown = message(card, "#card-message")
            assert "医保卡没有扣款" in shown and "重新预结算" in shown and "其他方式支付" in shown, shown
            assert card.step == "split" and card.preview is None  # back to the split: nothing to confirm
            assert sale.sale is not None and sale.sale["status"] == "open"

        assert [r["status"] for r in sandbox.settlements()] == ["reversed"]
        assert [r.status for r in ledger(engine)["settlements"]] == ["reversed"]
        assert [r.status for r in ledger(engine)["sales"]] == ["open"]

    asyncio.run(body())


def _card_sale_yesterday(base: str, engine: Engine, clock_today: Any) -> dict[str, Any]:
    """A sale the card paid (with its cash part), made through the service at T01, then dated yesterday (store
    time) behind the ledger's guard, as a sale of the day before is."""
    import uuid
    from datetime import timedelta

    from tests.pos.card_shop import headers
    from tests.tamper import behind_the_guard

    with httpx.Client(base_url=base, timeout=10) as http:
        h = headers(http, "cashier", "T01")
        http.post("/shifts", json={"float_fen": 0}, headers=h)
        sid = str(uuid.uuid4())
        assert http.post("/sales", json={"id": sid}, headers=h).status_code == 201
        assert http.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_VITC, "qty": 2}, headers=h).status_code == 201
        r = http.post(f"/sales/{sid}/insured", json={"method": "card", "card_no": EMPLOYEE.card_no,
                                                     "card_sn": EMPLOYEE.card_sn}, headers=h)
        assert r.status_code == 200, r.text
        due = http.post(f"/sales/{sid}/card/preview", json={}, headers=h).json()["due_otherwise_fen"]
        tenders = [{"kind": "cash", "amount_fen": due, "tendered_fen": due}] if due else []
        done = http.post(f"/sales/{sid}/card/settle", json={"tenders": tenders}, headers=h)
        assert done.status_code == 200, done.text
        # The pharmacist who will authorise the reversal is not signed in to the centre today (9001): the service
        # signs them in for that call.
    with behind_the_guard(engine, "sale") as conn:
        conn.execute(text("UPDATE sale SET business_date = :d WHERE id = :i"),
                     {"d": clock_today - timedelta(days=1), "i": sid})
    return dict(done.json())


@pytest.mark.refuses("CARD-04", "SEC-01", "SEC-03")
def test_f5_while_the_first_check_is_out_and_a_later_day_card_reversal_authorised_in_place(
        live: LiveService, sandbox: SandboxAdmin, settings: Settings, engine: Engine, ctx: Ctx,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One cashier's till (one service for both, a till test's service costs seconds):

    - F3 on today's sale: the check on opening the card screen (signed in? identified before?) is still with the
      service when F5 is pressed and the card number typed: F5 switches the mode at once, the number lands in
      its field, and the late check does not take the screen from the cashier.
    - F11 and yesterday's card receipt: the return itself is the pharmacist's (asked at once), the sale comes
      back whole by 2103, and a later day needs a second person — the cashier alone, or a frozen manager, is
      refused in the dialog with nothing sent to the centre; the live manager confirms."""
    from pos.screens.authorise import AuthoriseScreen
    from pos.screens.returns import ReturnScreen
    from server.db.uow import core_unit
    from server.roles import Role
    from server.services.store.users import add_user, freeze_user

    make_card_ready(live.base, engine, ctx, sign_in="cashier")
    with core_unit(engine) as u:
        gone = add_user(u, ctx, "u_mgr_gone", "离职店长", "4141", {Role.MANAGER})
        freeze_user(u, ctx, id_of(gone), "离职")
    paid = _card_sale_yesterday(live.base, engine, ctx.today)

    def pharmacist_sign_ins() -> list[dict[str, Any]]:
        return [r for r in sandbox.sign_ins() if r["opter"] == "u_pharmacist"]

    async def in_dialog(pilot: Pilot[Any], username: str, pin: str) -> AuthoriseScreen:
        dialog: AuthoriseScreen = await popup(pilot, AuthoriseScreen)
        await type_text(pilot, username, "enter")
        await type_text(pilot, pin, "enter")
        return dialog

    async def body() -> None:
        app = till(settings, live.base)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await scan(pilot, BARCODE_MASK)
            await settled(pilot, sale)
            answer, answered = asyncio.Event(), []
            split = app.client.card_split

            async def slow_split(sale_id: str) -> Any:  # the first check's call, held until the test lets it go
                await answer.wait()
                answered.append(await split(sale_id))
                return answered[-1]

            monkeypatch.setattr(app.client, "card_split", slow_split)
            await pilot.press("f3")
            card: CardScreen = await popup(pilot, CardScreen)
            await pilot.press("f5")
            assert card.mode == "card" and app.focused is not None and app.focused.id == "ida"
            await type_text(pilot, EMPLOYEE.card_no)
            answer.set()  # the check comes back: the sale was not identified before, nothing moves
            await until(pilot, lambda: bool(answered), what="the check")
            await pilot.pause()
            assert card.mode == "card" and card.step == "identify"
            assert card.query_one("#ida", Input).value == EMPLOYEE.card_no
            monkeypatch.setattr(app.client, "card_split", split)
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")

            await pilot.press("f11")
            returns: ReturnScreen = await popup(pilot, ReturnScreen)
            await type_text(pilot, paid["sale_no"], "enter")
            first = await popup(pilot, AuthoriseScreen)  # the cashier alone may not: asked before anything
            assert "须由药师" in str(first.query_one("#authorise-title").render())
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is returns and "未授权" in message(returns, "#return-message"))
            await pilot.press("enter")  # on the receipt again: asked again
            await in_dialog(pilot, "u_pharmacist", ROLE_PINS["pharmacist"])
            await until(pilot, lambda: app.screen is returns and returns.card_paid and returns.picked, what="whole")
            assert "2103" in message(returns, "#return-message")
            assert sum(returns.picked.values()) == 2  # the whole sale, picked and kept
            await pilot.press("minus")
            assert sum(returns.picked.values()) == 2
            returns.query_one("#reason").focus()
            await type_text(pilot, "次日退药", "enter")
            second = await popup(pilot, AuthoriseScreen)  # a later day: the second person
            assert "复核" in str(second.query_one("#authorise-title").render())
            await type_text(pilot, "u_cashier", "enter")  # the cashier checks it: no post that checks
            await type_text(pilot, ROLE_PINS["cashier"], "enter")
            await until(pilot, lambda: app.screen is returns and "CARD-04" in message(returns, "#return-message"),
                        what="the cashier refused as the second person")
            assert returns.done is None and sandbox.deliveries(infno="2103") == []
            assert not pharmacist_sign_ins()  # refused before anything: no sign-in made for the call either
            await pilot.press("f2")  # again: a frozen manager types their PIN
            frozen = await in_dialog(pilot, "u_mgr_gone", "4141")
            await until(pilot, lambda: "冻结" in message(frozen, "#authorise-message"), what="the frozen refusal")
            assert app.screen is frozen and sandbox.deliveries(infno="2103") == [] and not pharmacist_sign_ins()
            frozen.query_one("#auth-user", Input).value = ""
            frozen.query_one("#auth-user").focus()
            await type_text(pilot, "u_manager", "enter")
            await type_text(pilot, ROLE_PINS["manager"], "enter")
            try:
                await until(pilot, lambda: returns.done is not None, what="the reversal")
            except AssertionError:
                raise AssertionError(message(returns, "#return-message")) from None
            assert "退货完成" in message(returns, "#return-message")
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")

        with engine.connect() as conn:
            row = conn.execute(text("SELECT status, cancelled_by, cancel_confirmed_by FROM card_settlement")).one()
            ids = {r.username: r.id for r in conn.execute(text("SELECT id, username FROM app_user"))}
            kept = conn.execute(text("SELECT user_id, sign_no, signed_out_at FROM insurance_sign_in "
                                     "WHERE user_id = :p"), {"p": ids["u_pharmacist"]}).all()
            noted = conn.execute(text("SELECT note FROM audit_entry WHERE action = 'insurance.sign_in' "
                                      "AND user_id = :p"), {"p": ids["u_pharmacist"]}).scalars().all()
        assert tuple(row) == ("cancelled", ids["u_pharmacist"], ids["u_manager"])
        # The pharmacist who authorised it is the operator the centre recorded: signed in for the call (9001),
        # the 2103 under that sign-in, signed out after it (9002) — not left signed in at the cashier's till.
        [(_, sign_no, signed_out_at)] = kept
        assert signed_out_at is not None and len(noted) == 1 and "authorised in place" in noted[0]
        [centre_sign_in] = pharmacist_sign_ins()
        assert centre_sign_in["sign_no"] == sign_no and centre_sign_in["signed_out_at"]
        [cancel_2103] = sandbox.deliveries(infno="2103")
        sent = json.loads(cancel_2103["body"])
        assert (sent["opter"], sent["sign_no"], cancel_2103["infcode"]) == ("u_pharmacist", sign_no, "0")

    asyncio.run(body())
