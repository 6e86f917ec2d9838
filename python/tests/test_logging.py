"""The SDK's tracing events reach logging.getLogger("sfbkit") at matching levels, and no record holds a secret."""

from __future__ import annotations

import base64
import logging
import re
from typing import List

import pytest

import sfbkit
from sfbkit.lab import LabPool

from conftest import wait_for

# What must never appear in a record: the passwords used, NTLM messages (base64 of "NTLMSSP\0"), any
# gssapi-data value, SAML assertions and web tickets.
NTLM_B64 = base64.b64encode(b"NTLMSSP\x00")[:10].decode()
FORBIDDEN = [
    re.compile(re.escape("Lab-Passw0rd!")),
    re.compile(re.escape("Wrong-Passw0rd!")),
    re.compile(NTLM_B64),
    re.compile(r'gssapi-data="[A-Za-z0-9+/=]{8,}'),
    re.compile(r"<(saml:)?Assertion\b"),
    re.compile(r"X-MS-WebTicket:\s*\S{8,}", re.I),
]


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=1)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def everything() -> "object":
    logger = logging.getLogger("sfbkit")
    handler = Collect()
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(1)
    sfbkit.refresh_log_level()
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old)
    sfbkit.refresh_log_level()


async def test_records_reach_the_sfbkit_logger_without_secrets(lab_pool: LabPool, everything: Collect) -> None:
    with pytest.raises(sfbkit.SignInFailed):
        await lab_pool.client("alice", password="Wrong-Passw0rd!").sign_in()
    async with lab_pool.client("alice") as alice, lab_pool.client("bob") as bob:
        await bob.set_note("logged?")
        await wait_for(alice, sfbkit.NoteChanged)
    # The logging thread delivers in batches: wait until the sign-out's records arrived.
    for _ in range(100):
        if any("signed out" in r.getMessage() for r in everything.records):
            break
        import asyncio

        await asyncio.sleep(0.05)
    records = everything.records
    assert len(records) > 50, len(records)
    names = {r.name for r in records}
    assert "sfbkit.report" in names and any(n.startswith("sfbkit.") for n in names), names
    levels = {r.levelno for r in records}
    assert {logging.INFO, logging.DEBUG} <= levels and logging.WARNING in levels, levels
    steps = [r.getMessage() for r in records if r.name == "sfbkit.report"]
    assert any("REGISTER" in s for s in steps), steps[:5]
    for record in records:
        text = record.getMessage()
        for pattern in FORBIDDEN:
            assert not pattern.search(text), f"{pattern.pattern!r} in a {record.name} record: {text[:300]}"


async def test_records_below_the_loggers_level_are_not_forwarded(lab_pool: LabPool) -> None:
    logger = logging.getLogger("sfbkit")
    handler = Collect()
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.WARNING)
    try:
        sfbkit.refresh_log_level()
        async with lab_pool.client("alice"):
            pass
        assert all(r.levelno >= logging.WARNING for r in handler.records), [r.levelno for r in handler.records]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
        sfbkit.refresh_log_level()
