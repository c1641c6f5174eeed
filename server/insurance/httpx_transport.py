"""The transport over HTTP(S) with httpx, loaded when the service first needs it (transport.Deferred)."""

from __future__ import annotations

import httpx

from server.insurance.transport import Broken, NoAnswer, NotSent, Reply


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
