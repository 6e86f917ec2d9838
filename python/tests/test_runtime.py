"""The binding's own promises: cancellation drops the Rust future, a client stays in its loop and thread, a
panic is an exception, events go on across a dropped connection, the GIL is free while Rust waits."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from typing import List, Optional

import pytest

import sfbkit
from sfbkit import _native
from sfbkit.lab import LabPool

from conftest import STEP, wait_for


@pytest.mark.lab_pool(delay_ms=150)
async def test_cancelling_a_sign_in_drops_it_and_the_client_signs_in_afterwards(lab_pool: LabPool) -> None:
    client = lab_pool.client("alice")
    task = asyncio.ensure_future(client.sign_in())
    await asyncio.sleep(0.5)
    assert not task.done(), "with 150 ms per answer, sign-in takes seconds"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.5)
    assert not client.is_signed_in and lab_pool.bindings() == []
    report = await asyncio.wait_for(client.sign_in(), 60)
    assert report.succeeded and len(lab_pool.bindings()) == 1
    await client.sign_out()


@pytest.mark.lab_pool(delay_ms=100)
async def test_the_gil_is_free_while_rust_waits(lab_pool: LabPool) -> None:
    ticks: List[float] = []
    stop = threading.Event()

    def python_thread() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    thread = threading.Thread(target=python_thread)
    thread.start()
    try:
        async with lab_pool.client("alice"):
            pass
    finally:
        stop.set()
        thread.join()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(ticks) > 50 and max(gaps) < 0.5, f"a Python thread stalled for {max(gaps):.2f} s"


async def test_a_client_belongs_to_its_loop_and_thread(lab_pool: LabPool) -> None:
    client = lab_pool.client("alice")
    await client.sign_in()
    errors: List[BaseException] = []

    def other_thread() -> None:
        try:
            asyncio.run(client.set_note("from another thread"))
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            errors.append(e)

    t = threading.Thread(target=other_thread)
    t.start()
    t.join(STEP)
    assert len(errors) == 1 and isinstance(errors[0], sfbkit.WrongEventLoop), errors
    assert errors[0].error_class == "wrong-loop" and errors[0].hint
    await client.sign_out()


def test_a_client_used_after_its_loop_closed_gets_a_clear_error(lab_pool: LabPool) -> None:
    client = lab_pool.client("alice")
    asyncio.run(client.sign_in())
    with pytest.raises(sfbkit.WrongEventLoop) as e:
        asyncio.run(client.set_note("after the loop closed"))
    assert e.value.error_class == "loop-closed"
    with pytest.raises(sfbkit.WrongEventLoop) as outside:
        client.sign_in().send(None)
    assert outside.value.error_class == "no-event-loop"
    # Dropping the client signs it out (the driver ends when the client goes); the exceptions' tracebacks
    # hold it too.
    del client, e, outside
    gc.collect()
    for _ in range(100):
        if not lab_pool.bindings():
            break
        time.sleep(0.05)
    assert lab_pool.bindings() == []


def test_a_panic_is_an_exception_not_an_abort() -> None:
    with pytest.raises(sfbkit.InternalError, match="deliberate panic"):
        _native._panic_for_tests(False)

    async def inside() -> None:
        await _native._panic_for_tests(True)

    with pytest.raises(sfbkit.InternalError, match="deliberate panic"):
        asyncio.run(inside())


@pytest.mark.lab_pool(faults=["drop-connection"])
async def test_events_go_on_across_a_dropped_connection(lab_pool: LabPool) -> None:
    seen: List[sfbkit.Event] = []
    async with lab_pool.client("alice", reconnect=sfbkit.ReconnectPolicy(initial=0.2, max=1.0)) as alice:
        await wait_for(alice, sfbkit.ConnectionLost, seen=seen)
        restored = await wait_for(alice, sfbkit.ConnectionRestored, seen=seen)
        assert restored.attempts >= 1
        assert alice.is_signed_in
        async with lab_pool.client("bob") as bob:
            await bob.set_note("after the reconnect")
            await wait_for(alice, sfbkit.NoteChanged, lambda e: e.note == "after the reconnect", seen=seen)
    kinds = [type(e).__name__ for e in seen]
    assert kinds.index("ConnectionLost") < kinds.index("ConnectionRestored"), kinds


async def test_the_server_ending_the_registration_ends_the_event_stream(lab_pool: LabPool) -> None:
    alice = lab_pool.client("alice")
    await alice.sign_in()
    await wait_for(alice, sfbkit.Registered)
    assert lab_pool.disable_user("alice") == 1
    last: Optional[sfbkit.Event] = None

    async def drain() -> None:
        nonlocal last
        async for event in alice.events():
            last = event
            if isinstance(event, sfbkit.Deregistered):
                assert event.reason.kind == "rejected" and event.diagnostics_code == 4141
                assert not event.reconnecting
                return

    await asyncio.wait_for(drain(), STEP)
    assert isinstance(last, sfbkit.Deregistered)
    await alice.sign_out()


async def test_no_event_is_lost_to_time_outs(lab_pool: LabPool) -> None:
    async with lab_pool.client("alice") as alice, lab_pool.client("bob") as bob:
        await wait_for(alice, sfbkit.ContactAdded)
        notes = [f"note {i}" for i in range(10)]

        async def publish() -> None:
            for note in notes:
                await bob.set_note(note)

        publisher = asyncio.ensure_future(publish())
        received: List[str] = []
        deadline = time.monotonic() + STEP
        while len(received) < len(notes) and time.monotonic() < deadline:
            try:
                event = await alice.next_event(timeout=0.002)
            except asyncio.TimeoutError:
                continue
            if isinstance(event, sfbkit.NoteChanged) and event.note:
                received.append(event.note)
        await publisher
        assert received == notes
