"""Two users see each other's presence and notes; events match on __match_args__; run_forever and on()."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from typing import Any, Dict, List

import pytest

import sfbkit
from sfbkit.lab import LabPool

from conftest import STEP, wait_for


async def test_two_users_see_each_others_presence_and_notes(lab_pool: LabPool) -> None:
    async with lab_pool.client("alice") as alice, lab_pool.client("bob") as bob:
        await wait_for(alice, sfbkit.ContactAdded, lambda e: e.contact.uri == "sip:bob@contoso.lab")
        await bob.set_presence(sfbkit.Availability.BUSY, activity="in-a-meeting")
        await bob.set_note("Testing sfbkit from Python")
        # The two changes may reach alice in either order (or in one NOTIFY): look for each in all that came.
        seen: List[sfbkit.Event] = []
        busy = await wait_for(
            alice, sfbkit.PresenceChanged, lambda e: e.availability is sfbkit.Availability.BUSY, seen=seen
        )
        assert busy.uri == "sip:bob@contoso.lab" and busy.activity == "in-a-meeting"
        noted = [e for e in seen if isinstance(e, sfbkit.NoteChanged) and e.note == "Testing sfbkit from Python"]
        note = noted[0] if noted else await wait_for(alice, sfbkit.NoteChanged, lambda e: e.note == "Testing sfbkit from Python")
        assert note.uri == "sip:bob@contoso.lab"
        view = alice.presence_of("bob@contoso.lab")
        assert view is not None and view.availability is sfbkit.Availability.BUSY
        assert view.note is not None and view.note.text == "Testing sfbkit from Python"

        # Alice's own publication is confirmed to her, and a cleared note reaches her as None.
        await alice.set_presence(sfbkit.Availability.AWAY)
        published = await wait_for(alice, sfbkit.PresencePublished, lambda e: "state" in e.categories)
        assert "state" in published.categories
        await bob.set_note(None)
        cleared = await wait_for(alice, sfbkit.NoteChanged, lambda e: e.note is None)
        assert cleared.uri == "sip:bob@contoso.lab"


async def test_watch_presence_reaches_someone_outside_the_contact_list(lab_pool: LabPool) -> None:
    # carol has no contacts: bob's presence reaches her only because she watches him.
    async with lab_pool.client("carol") as carol, lab_pool.client("bob") as bob:
        assert not carol.contacts().contacts
        await carol.watch_presence("bob@contoso.lab")
        await bob.set_presence(sfbkit.Availability.DO_NOT_DISTURB)
        seen = await wait_for(
            carol, sfbkit.PresenceChanged, lambda e: e.availability is sfbkit.Availability.DO_NOT_DISTURB
        )
        assert seen.uri == "sip:bob@contoso.lab"
        view = carol.presence_of("bob@contoso.lab")
        assert view is not None and view.availability is sfbkit.Availability.DO_NOT_DISTURB
        await carol.unwatch_presence("bob@contoso.lab")
        assert not carol.contacts().contacts, "the contact list was never touched"


def test_events_are_immutable_and_have_match_args() -> None:
    for cls in sfbkit.events.EVENT_CLASSES:
        assert "__match_args__" in cls.__dict__, cls
        assert cls.__doc__, cls
        names: tuple[str, ...] = cls.__match_args__
        for name in names:
            assert hasattr(cls, name) or name in {f.name for f in dataclasses.fields(cls)}, (cls, name)
    event = sfbkit.NoteChanged("sip:bob@contoso.lab", "hello")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.note = "changed"  # type: ignore[misc]


@pytest.mark.skipif(sys.version_info < (3, 10), reason="match statements need Python 3.10")
async def test_a_bot_can_match_on_events(lab_pool: LabPool) -> None:
    # The match statement is compiled at run time so this file still imports on Python 3.9.
    source = """
def describe(event):
    match event:
        case sfbkit.PresenceChanged(uri, sfbkit.Availability.BUSY, activity):
            return f"{uri} is busy ({activity})"
        case sfbkit.NoteChanged(uri, note):
            return f"{uri} says {note}"
        case sfbkit.ContactAdded(sfbkit.Contact(uri, name)):
            return f"contact {name}"
        case _:
            return None
"""
    scope: Dict[str, Any] = {"sfbkit": sfbkit}
    exec(compile(source, "match_example", "exec"), scope)
    describe = scope["describe"]
    async with lab_pool.client("alice") as alice, lab_pool.client("bob") as bob:
        await bob.set_presence(sfbkit.Availability.BUSY, activity="on-the-phone")
        lines: List[str] = []

        async def collect() -> None:
            async for event in alice.events():
                line = describe(event)
                if line:
                    lines.append(line)
                if line and "busy" in line:
                    return

        await asyncio.wait_for(collect(), STEP)
        assert "contact Bob Berg" in lines
        assert "sip:bob@contoso.lab is busy (on-the-phone)" in lines


async def test_run_forever_calls_the_handlers_until_sign_out(lab_pool: LabPool) -> None:
    alice = lab_pool.client("alice")
    calls: List[str] = []

    @alice.on(sfbkit.ContactAdded)
    def added(event: sfbkit.ContactAdded) -> None:
        calls.append(f"added {event.contact.uri}")

    @alice.on(sfbkit.LocationProfileLoaded)
    async def dial_plan(event: sfbkit.LocationProfileLoaded) -> None:
        calls.append(f"dial plan {event.name}")
        await alice.sign_out()

    @alice.on()
    def everything(event: sfbkit.Event) -> None:
        calls.append(type(event).__name__)

    await asyncio.wait_for(alice.run_forever(), STEP)
    assert "added sip:bob@contoso.lab" in calls
    assert "dial plan UK.contoso.lab" in calls
    assert calls[-1] == "SignedOut" and not alice.is_signed_in
    with pytest.raises(TypeError):
        alice.on(str)  # type: ignore[type-var]


async def test_run_forever_signs_out_when_cancelled(lab_pool: LabPool) -> None:
    alice = lab_pool.client("alice")
    task = asyncio.ensure_future(alice.run_forever())
    for _ in range(200):
        if alice.is_signed_in:
            break
        await asyncio.sleep(0.05)
    assert alice.is_signed_in
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not alice.is_signed_in and lab_pool.bindings() == []


async def test_every_subscription_sees_every_event(lab_pool: LabPool) -> None:
    async with lab_pool.client("alice") as alice, lab_pool.client("bob") as bob:
        await wait_for(alice, sfbkit.ContactAdded)
        first, second = alice.subscribe(), alice.subscribe()
        await bob.set_note("seen by every listener")
        for reader in (first, second):

            async def until_note(r: sfbkit.EventSubscription = reader) -> sfbkit.NoteChanged:
                async for event in r:
                    if isinstance(event, sfbkit.NoteChanged) and event.note == "seen by every listener":
                        return event
                raise AssertionError("the subscription ended")

            note = await asyncio.wait_for(until_note(), STEP)
            assert note.uri == "sip:bob@contoso.lab"
        # The primary stream still has it too.
        await wait_for(alice, sfbkit.NoteChanged, lambda e: e.note == "seen by every listener")
