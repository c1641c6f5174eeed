"""What the running service holds: settings, the engine, its store, the search index."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from server.config import Settings
from server.events import EventHub
from server.services.search import CatalogSearch


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    store_id: int
    search: CatalogSearch
    events: EventHub = field(default_factory=EventHub)
