"""The uploads' outbox at the database (ST-02, ST-06): what a row says of the ledger is never rewritten and no row
is deleted; its state moves along its edges only (migration 0025) — on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from server.db.models.uploads import UploadState
from server.db.uow import core_unit, read_unit
from server.services import outbox
from server.services.context import Ctx
from tests.conftest import Clock, seed_shop


def _row(engine: Engine) -> Any:
    with read_unit(engine) as r:
        return r.connection().execute(sa.select(outbox.OUT)).one()


@pytest.mark.refuses("ST-02", "ST-06")
def test_an_upload_is_never_rewritten_nor_deleted_behind_the_service(engine: Engine, ctx: Ctx, clock: Clock) -> None:
    items = seed_shop(engine, ctx)
    with engine.begin() as conn:  # the item mapped (the mapping's own path is tested with the catalog)
        conn.execute(sa.text("UPDATE item SET nhsa_code = 'XA11GAA000A001010100002' WHERE id = :i"),
                     {"i": items["vitc"]})
        batch_id = conn.execute(sa.text("SELECT id FROM batch WHERE item_id = :i"), {"i": items["vitc"]}).scalar_one()
    with core_unit(engine) as u:
        assert outbox.inventory(u, ctx, [("1", batch_id, items["vitc"], 50)]) == 1
    before = _row(engine)
    # the walk-arounds: an edit of the quantity, of the batch, a deletion — each by hand, behind the service
    for statement in ("UPDATE upload_outbox SET qty = 49", "UPDATE upload_outbox SET batch_id = batch_id + 1",
                      "UPDATE upload_outbox SET key = 'c2'", "DELETE FROM upload_outbox"):
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert _row(engine) == before  # nothing written
    # the lawful edges: claimed, accepted; then only a replay moves it (back to pending), never to failed
    with core_unit(engine) as u:
        assert outbox.claim(u, before.id, "P44030000001202612071000000001", {"inv_cnt": "50"}, clock.now)
        outbox.answered(u, before.id, UploadState.ACCEPTED, clock.now)
    for statement in ("UPDATE upload_outbox SET state = 'failed'", "UPDATE upload_outbox SET state = 'lost'",
                      "UPDATE upload_outbox SET payload = '{\"inv_cnt\": \"60\"}'"):
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(sa.text(statement))
    accepted = _row(engine)
    assert (accepted.state, accepted.payload) == ("accepted", {"inv_cnt": "50"})
    with core_unit(engine) as u:
        assert outbox.requeue(u, ctx.store_id, [before.id], clock.now, [UploadState.ACCEPTED]) == 1
    assert _row(engine).state == "pending"
