"""GET /health: the database, the migrations head and the configuration, without logging in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from server.api.deps import get_state
from server.api.schemas.audit import HealthOut
from server.db.revisions import current_revision, head_revision

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, openapi_extra={"x-action": "public"})
def health(request: Request) -> HealthOut:
    state = get_state(request)
    db_ok = "ok"
    current = None
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = current_revision(state.engine)
    except Exception as exc:  # health reports the failure; it never raises it
        db_ok = f"error: {type(exc).__name__}"
    head = head_revision()
    later = getattr(request.app.state, "all_routes", None)
    cfg = state.settings
    status = "ok" if db_ok == "ok" and current == head else "degraded"
    return HealthOut(
        status=status,
        database=db_ok,
        backend=state.engine.dialect.name,
        migrations={"current": current, "head": head, "up_to_date": current == head},
        configuration={"file": cfg.source_file, "valid": True, "till": cfg.till.code,
                       "insurance_gateway": cfg.insurance.gateway},
        store={"id": state.store_id, "code": cfg.store.fixmedins_code, "name": cfg.store.name},
        all_routes="loading" if later is not None and not later.ready.is_set() else "ready",
    )
