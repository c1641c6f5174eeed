"""What the running service holds: settings, the engine, its store (its search index: services.catalog.search.index_of)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from server.auth.grants import Grants
from server.auth.principals import PrincipalCache
from server.config import Settings
from server.events import EventHub

if TYPE_CHECKING:
    from server.devices import DeviceManager


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    store_id: int
    events: EventHub = field(default_factory=EventHub)
    principals: PrincipalCache = field(default_factory=PrincipalCache)
    grants: Grants = field(default_factory=Grants)  # authorisations in place (server.auth.grants)
    devices: DeviceManager | None = None  # started and stopped with the service (app lifespan)
