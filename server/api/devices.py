"""The store's devices: their state (GET /devices) and, for the demo, hands on the simulated ones."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Request

from server.api.deps import Who, get_state, guarded
from server.api.schemas.devices import (
    CardInsertIn,
    CardOut,
    CardRemovedOut,
    DeviceOut,
    PrinterSimIn,
    ScanIn,
    ScanOut,
    SlipOut,
)
from server.devices import DeviceManager
from server.errors import AppError
from server.permissions import Action

router = APIRouter(tags=["devices"])


def manager(request: Request) -> DeviceManager:
    devices = get_state(request).devices
    if devices is None:
        raise AppError(503, "DEVICES-DOWN", "设备管理未启动", "the device manager is not running")
    return devices


@router.get("/devices", response_model=list[DeviceOut], **guarded(Action.DEVICE_READ))
def list_devices(request: Request, who: Who) -> list[DeviceOut]:
    """Each device of this till (its own printer): connected, what it last did, its last error."""
    return [DeviceOut(**s.as_dict()) for s in manager(request).statuses(who.till_code)]


@router.post("/devices/scanner/scan", response_model=ScanOut, **guarded(Action.DEVICE_DEMO))
def simulated_scan(body: ScanIn, request: Request) -> ScanOut:
    """Scan a code on the simulated scanner: it reaches the owning till's event stream as a real scan would."""
    devices = manager(request)
    return ScanOut(delivered=devices.simulated_scan(body.code), till_code=devices.settings.till.code)


@router.post("/devices/printer/simulate", response_model=DeviceOut, **guarded(Action.DEVICE_DEMO))
def simulate_printer(body: PrinterSimIn, request: Request, who: Who) -> DeviceOut:
    """Take this till's simulated printer offline / out of paper and back, to watch jobs wait and print."""
    worker = manager(request).simulate_printer(body.online, body.paper, who.till_code)
    return DeviceOut(**worker.status().as_dict())


@router.get("/devices/printer/paper", response_model=list[SlipOut], **guarded(Action.DEVICE_READ))
def simulated_paper(request: Request, who: Who,
                    limit: Annotated[int, Query(ge=1, le=50)] = 20) -> list[SlipOut]:
    """What this till's simulated printer printed, newest first, as text (the demo's paper: the till's 小票 key)."""
    return [SlipOut(**asdict(slip)) for slip in manager(request).simulated_printer(who.till_code).recent(limit)]


@router.post("/devices/card/insert", response_model=CardOut, **guarded(Action.DEVICE_DEMO))
def insert_demo_card(body: CardInsertIn, request: Request) -> CardOut:
    """Put a demo card into the simulated reader: the till gets the `card` event a real card gives."""
    return CardOut(**manager(request).insert_demo_card(body.key).public())


@router.post("/devices/card/remove", response_model=CardRemovedOut, **guarded(Action.DEVICE_DEMO))
def remove_demo_card(request: Request) -> CardRemovedOut:
    """Pull the card out of the simulated reader."""
    return CardRemovedOut(removed=manager(request).remove_demo_card())


@router.post("/devices/card/read", response_model=CardOut, **guarded(Action.DEVICE_READ))
def read_card(request: Request) -> CardOut:
    """Read the card in this till's reader again (the 读卡 key); no card or a reader fault is a 409 naming it."""
    return CardOut(**manager(request).read_card().public())
