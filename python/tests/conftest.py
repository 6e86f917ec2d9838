"""Helpers for the sfbkit Python suite. The ``lab_pool`` fixture itself comes from sfbkit's pytest plugin,
registered by installing the package, exactly as a QA team gets it."""

from __future__ import annotations

import asyncio
from typing import Callable, List, Type, TypeVar

import sfbkit

E = TypeVar("E", bound=sfbkit.Event)

#: Long enough for any lab step on a loaded 2-core CI machine; a hang fails instead of stalling the run.
STEP = 20.0


async def wait_for(
    client: sfbkit.Client,
    kind: Type[E],
    where: Callable[[E], bool] = lambda e: True,
    timeout: float = STEP,
    seen: "List[sfbkit.Event] | None" = None,
) -> E:
    """Reads ``client``'s events until one of class ``kind`` matches ``where``; the events read go to ``seen``."""

    read_here: List[sfbkit.Event] = []

    async def read() -> E:
        while True:
            event = await client.next_event()
            read_here.append(event)
            if seen is not None:
                seen.append(event)
            if isinstance(event, kind) and where(event):
                return event

    try:
        return await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        kinds = [type(e).__name__ for e in read_here]
        raise AssertionError(f"no matching {kind.__name__} within {timeout} s; read meanwhile: {kinds}") from None
