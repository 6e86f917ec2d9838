"""``sfbkit.Fleet``: many endpoints on one runtime, signed in through a pacer, counted as Microsoft's stress tool
counts them (active endpoints, logon attempts, failed logons, endpoints disconnected, and per operation the
count of each response code).

::

    fleet = sfbkit.Fleet(sign_ins_per_second=2.0)
    clients = [fleet.add(f"user{i}@contoso.com", password=..., keystore="memory") for i in range(100)]
    await fleet.sign_in_all()
    print(fleet.stats())

The default pace, 2 sign-ins per second, is the stress tool's recommendation per instance (a pool peaks at
about 12 per second); pass ``sign_ins_per_second=None`` against a lab pool.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from . import _native
from .client import Client, _count, _options
from .errors import SignInFailed
from .types import SignInReport

__all__ = ["Fleet", "FleetStats"]


@dataclass(frozen=True)
class FleetStats:
    """A fleet's counters at one moment, named as the stress tool (LyncPerfTool) names them where it has a
    name."""

    endpoints: int = 0
    """Endpoints in the fleet."""
    active_endpoints: int = 0
    """Endpoints signed in now ("Active Endpoints")."""
    logon_attempts: int = 0
    """Sign-ins started ("Logon Attempts")."""
    logon_failures: int = 0
    """Sign-ins that failed ("Failed Logons")."""
    disconnects: int = 0
    """Connections to a registrar lost while signed in ("Endpoints Disconnected")."""
    deregistrations: int = 0
    """Registrations the registrar ended."""
    reconnects: int = 0
    """Endpoints signed in again after a loss."""
    responses: Dict[str, Dict[int, int]] = field(default_factory=dict)
    """Per operation (a SIP method such as ``"REGISTER"``, or ``"HTTP GET /path"``), the count of each response
    code received."""

    def responses_with(self, code: int) -> int:
        """All responses counted with this code, over every operation."""
        return sum(codes.get(code, 0) for codes in self.responses.values())

    @classmethod
    def _from_json(cls, text: str) -> FleetStats:
        data: Dict[str, Any] = json.loads(text)
        responses = {op: {int(code): int(n) for code, n in codes.items()} for op, codes in data["responses"].items()}
        counts = {name: int(data[name]) for name in _COUNTS}
        return cls(**counts, responses=responses)


_COUNTS = (
    "endpoints",
    "active_endpoints",
    "logon_attempts",
    "logon_failures",
    "disconnects",
    "deregistrations",
    "reconnects",
)


class Fleet:
    """Many endpoints, paced and counted. ``defaults`` are :class:`sfbkit.Client` options every
    :meth:`add` starts from. Each endpoint keeps ``event_buffer`` events for a reader that is behind (default
    16: a load test's events are usually not read; a client's own ``event_buffer`` option wins)."""

    def __init__(
        self,
        *,
        sign_ins_per_second: Optional[float] = 2.0,
        max_in_flight: int = 32,
        event_buffer: Optional[int] = None,
        **defaults: Any,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")
        _count("event_buffer", event_buffer)
        _options(defaults)  # unknown options are refused now, not at the first add()
        self._native = _native.Fleet(sign_ins_per_second, max_in_flight, event_buffer)
        self._defaults = dict(defaults)
        self._clients: List[Client] = []

    def __repr__(self) -> str:
        return f"<sfbkit.Fleet {len(self._clients)} endpoints>"

    def __len__(self) -> int:
        return len(self._clients)

    @property
    def clients(self) -> List[Client]:
        """The fleet's clients, in the order added."""
        return list(self._clients)

    def add(self, sip_uri: str, **options: Any) -> Client:
        """A :class:`sfbkit.Client` for ``sip_uri`` in this fleet (its counters, its shared trust and dial
        plans); ``options`` are :class:`sfbkit.Client`'s, on top of the fleet's defaults."""
        native = self._native.add(sip_uri, _options({**self._defaults, **options}))
        client = Client._wrap(native, sip_uri)
        self._clients.append(client)
        return client

    async def sign_in(self, client: Client) -> SignInReport:
        """Signs ``client`` in when the pacer lets it; raises :class:`sfbkit.SignInFailed` as
        :meth:`sfbkit.Client.sign_in` does. The attempt is counted either way."""
        client._bind()
        report = SignInReport._from_json(await self._native.sign_in(client._native))
        client.last_report = report
        if not report.succeeded:
            raise SignInFailed(report)
        return report

    def sign_in_blocking(self, client: Client) -> SignInReport:
        """:meth:`sign_in` without asyncio: the calling thread waits (for load tools on gevent, from their
        thread pool; see :mod:`sfbkit.locust`). Never call it inside a running event loop."""
        report = SignInReport._from_json(self._native.sign_in_blocking(client._native))
        client.last_report = report
        if not report.succeeded:
            raise SignInFailed(report)
        return report

    async def sign_in_all(self) -> int:
        """Signs in every client not signed in, paced; returns how many are signed in. Failures are counted
        in :meth:`stats`, not raised."""
        return await self._native.sign_in_all()

    async def sign_out_all(self) -> None:
        """Signs every client out, ``max_in_flight`` at a time."""
        await self._native.sign_out_all()

    def stats(self) -> FleetStats:
        """The counters now."""
        return FleetStats._from_json(self._native.stats())
