"""sfbkit.lab from Python: a configuration file, and the test hooks the Rust lab has."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import sfbkit
from sfbkit.lab import LabPool

from conftest import STEP, wait_for

SECOND_DEVICE_NOTE = (
    '<publish xmlns="http://schemas.microsoft.com/2006/09/sip/rich-presence">'
    '<publications uri="sip:bob@contoso.lab">'
    '<publication categoryName="note" instance="0" container="200" version="0" expireType="static">'
    '<note xmlns="http://schemas.microsoft.com/2006/09/sip/note">'
    '<body type="personal">Published by bob\'s phone</body></note></publication>'
    "</publications></publish>"
)


async def test_a_configuration_file_sets_the_users(tmp_path: Path) -> None:
    config = tmp_path / "lab.toml"
    config.write_text(
        'faults = ["ntlm-only"]\n'
        '[[users]]\nsip_uri = "sip:dave@contoso.lab"\ndisplay_name = "Dave Dunn"\naccount = "CONTOSO\\\\dave"\n'
    )
    async with LabPool(config=config, delay_ms=0) as lab:
        assert [u.name for u in lab.users] == ["dave"]
        assert lab.user("dave@contoso.lab").account == "CONTOSO\\dave"
        assert lab.faults == ("ntlm-only",)
        async with lab.client("dave") as dave:
            assert dave.last_report is not None
            assert any("NTLM" in s.detail for s in dave.last_report.stages if s.step.startswith("REGISTER"))
        with pytest.raises(sfbkit.LabError, match="dave"):
            lab.user("alice")


async def test_publishing_as_a_second_device_reaches_watchers(lab_pool: LabPool) -> None:
    async with lab_pool.client("alice") as alice, lab_pool.client("bob"):
        await wait_for(alice, sfbkit.ContactAdded)
        assert lab_pool.publish_as("bob", "0123456789", SECOND_DEVICE_NOTE) == 200
        note = await wait_for(alice, sfbkit.NoteChanged, lambda e: e.note == "Published by bob's phone")
        assert note.uri == "sip:bob@contoso.lab"


async def test_a_changed_password_is_refused_and_counted(lab_pool: LabPool) -> None:
    lab_pool.change_password("alice", "A-New-Passw0rd!")
    before = lab_pool.failed_logons
    with pytest.raises(sfbkit.SignInFailed) as failed:
        await lab_pool.client("alice").sign_in()
    assert failed.value.error_class == "wrong-credentials"
    assert lab_pool.failed_logons == before + 1, "one sign-in, one failed logon"
    async with lab_pool.client("alice", password="A-New-Passw0rd!") as alice:
        assert alice.is_signed_in


async def test_deregistration_and_forged_notifies(lab_pool: LabPool) -> None:
    async with lab_pool.client("alice") as alice:
        await wait_for(alice, sfbkit.Registered)
        assert lab_pool.forge_deregistration("alice") == 1
        for _ in range(100):
            if alice.bad_signatures:
                break
            await asyncio.sleep(0.05)
        assert alice.bad_signatures == 1 and alice.is_signed_in, "a forged NOTIFY is dropped"
        assert lab_pool.deregister("alice", "unregistered") == 1
        ended = await wait_for(alice, sfbkit.Deregistered)
        assert ended.reason.kind == "unregistered" and not ended.reconnecting


async def test_a_restarted_registrar_is_reconnected_to(lab_pool: LabPool) -> None:
    async with lab_pool.client("alice", reconnect=sfbkit.ReconnectPolicy(initial=0.2, max=1.0)) as alice:
        await wait_for(alice, sfbkit.Registered)
        assert lab_pool.restart_sip(0.5) >= 1
        await wait_for(alice, sfbkit.ConnectionLost)
        restored = await wait_for(alice, sfbkit.ConnectionRestored, timeout=STEP)
        assert restored.downtime_ms >= 400, restored
        assert [b.aor for b in lab_pool.bindings()] == ["alice@contoso.lab"]


def test_hooks_after_stop_are_lab_errors() -> None:
    lab = LabPool().start_blocking()
    lab.stop()
    with pytest.raises(sfbkit.LabError) as e:
        lab.drop_connections("alice")
    assert e.value.error_class == "not-running"
