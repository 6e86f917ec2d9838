"""The pytest plugin (registered on install through the ``pytest11`` entry point).

It gives a test a running lab pool::

    async def test_signin(lab_pool):
        async with lab_pool.client("alice") as alice:
            assert alice.last_report.succeeded

- ``lab_pool``: a :class:`sfbkit.lab.LabPool` started for the test and stopped after it. Faults and a delay
  come from a marker: ``@pytest.mark.lab_pool(faults=["ntlm-only"], delay_ms=50)``.
- An ``async def`` test that uses ``lab_pool`` runs even without an asyncio plugin; with pytest-asyncio or
  anyio managing the test, they run it.
- JUnit output comes from pytest itself: ``pytest --junitxml=report.xml``.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Iterator, Optional

import pytest

from .lab import LabPool

__all__ = ["lab_pool"]


def pytest_configure(config: pytest.Config) -> None:
    """Registers the ``lab_pool`` marker."""
    config.addinivalue_line(
        "markers",
        "lab_pool(faults=(), delay_ms=0, config=None): how the sfbkit lab_pool fixture starts the lab pool",
    )


@pytest.fixture
def lab_pool(request: pytest.FixtureRequest) -> Iterator[LabPool]:
    """A running sfbkit lab pool, stopped after the test (see ``@pytest.mark.lab_pool`` for its faults)."""
    marker = request.node.get_closest_marker("lab_pool")
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    with LabPool(**kwargs) as lab:
        yield lab


def _managed_elsewhere(item: pytest.Function) -> bool:
    """Whether an async plugin (pytest-asyncio, anyio) runs this test."""
    if type(item).__module__.startswith("pytest_asyncio"):
        return True
    return item.get_closest_marker("asyncio") is not None or item.get_closest_marker("anyio") is not None


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Optional[bool]:
    """Runs an ``async def`` test that uses ``lab_pool`` in a fresh event loop, unless an async plugin does."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj) or "lab_pool" not in pyfuncitem.fixturenames:
        return None
    if _managed_elsewhere(pyfuncitem):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True
