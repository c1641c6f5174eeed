import pytest
from sqlalchemy import text
from tests.server.test_durability import _check_store, _stock_up
from tests.server.test_selling import new_sale, scan, pay_cash
from tests.conftest import BARCODE_VITC, seed_shop, add_role_users, till_login, ROLE_PINS

@pytest.mark.parametrize("sql", ["DELETE FROM tender", "DELETE FROM stock_movement WHERE ref_type='sale_line'",
                                 "UPDATE sale SET status='open'", "DELETE FROM audit_entry WHERE action='sale.complete'"])
def test_mut(client, engine, ctx, sql):
    items = seed_shop(engine, ctx); add_role_users(engine, ctx)
    opening = _stock_up(engine, ctx, items)
    h = till_login(client, "u_cashier", ROLE_PINS["cashier"])
    client.post("/shifts", json={"float_fen": 0}, headers=h)
    sid = new_sale(client, h); scan(client, h, sid, BARCODE_VITC, 2)
    ack = pay_cash(client, h, sid, 700, 700).json()
    _check_store(engine, ctx, {sid: ack}, opening)
    with engine.begin() as c:
        c.execute(text("PRAGMA foreign_keys=OFF")) if engine.dialect.name == "sqlite" else None
        c.execute(text(sql))
    with pytest.raises(AssertionError) as e:
        _check_store(engine, ctx, {sid: ack}, opening)
    print(sql, "->", str(e.value).splitlines()[0][:150])
