"""How a message travels: one POST of a JSON body, and what went wrong if no answer came.

The transport says only what it knows about delivery: NotSent (the request never left: safe to
retry), NoAnswer (it left, nothing came back in time) or Broken (it left, the answer was cut off).
The adapter turns those into the gateway's typed errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes


class NotSent(Exception):
    pass


class NoAnswer(Exception):
    pass


class Broken(Exception):
    pass


class Transport(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Reply: ...

    def close(self) -> None: ...


class HttpxTransport:
    """Plain HTTP(S) with httpx; one pooled client per gateway."""

    def __init__(self, connect_timeout: float = 3.0, verify: bool | str = True) -> None:
        self._connect_timeout = connect_timeout
        self._client = httpx.Client(verify=verify, trust_env=False)

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Reply:
        limits = httpx.Timeout(timeout, connect=min(self._connect_timeout, timeout), pool=self._connect_timeout)
        try:
            r = self._client.post(url, content=body, headers=headers, timeout=limits)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol,
                httpx.InvalidURL) as exc:
            raise NotSent(f"{type(exc).__name__}: {exc}") from exc
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
            raise NoAnswer(f"{type(exc).__name__}") from exc
        except httpx.TransportError as exc:  # RemoteProtocolError, ReadError, WriteError: cut off mid-way
            raise Broken(f"{type(exc).__name__}: {exc}") from exc
        return Reply(r.status_code, r.content)

    def close(self) -> None:
        self._client.close()
