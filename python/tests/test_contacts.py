"""Contacts and groups: added, moved, renamed, removed, and still there after signing in again."""

from __future__ import annotations

import pytest

import sfbkit
from sfbkit.lab import LabPool

from conftest import wait_for


async def test_contact_changes_survive_signing_in_again(lab_pool: LabPool) -> None:
    async with lab_pool.client("alice") as alice:
        await wait_for(alice, sfbkit.ContactAdded)
        group_id = await alice.add_group("Lab friends")
        await wait_for(alice, sfbkit.GroupAdded, lambda e: e.group.id == group_id)
        await alice.add_contact("carol@contoso.lab", "Carol", group="Lab friends")
        added = await wait_for(alice, sfbkit.ContactAdded, lambda e: e.contact.uri == "sip:carol@contoso.lab")
        assert added.contact.groups == (group_id,)
        await alice.move_contact("sip:bob@contoso.lab", "Lab friends")
        moved = await wait_for(alice, sfbkit.ContactModified, lambda e: e.after.uri == "sip:bob@contoso.lab")
        assert moved.after.groups == (group_id,)
        await alice.rename_group("Lab friends", "Friends")
        await wait_for(alice, sfbkit.GroupModified, lambda e: e.after.name == "Friends")
        listed = alice.contacts()
        assert {c.uri for c in listed.in_group("Friends")} == {"sip:bob@contoso.lab", "sip:carol@contoso.lab"}

    again = lab_pool.client("alice")
    async with again:
        await wait_for(again, sfbkit.ContactAdded, lambda e: e.contact.uri == "sip:carol@contoso.lab")
        listed = again.contacts()
        friends = listed.group("Friends")
        assert friends is not None
        assert {c.uri for c in listed.in_group("Friends")} == {"sip:bob@contoso.lab", "sip:carol@contoso.lab"}
        await again.remove_contact("carol@contoso.lab")
        await wait_for(again, sfbkit.ContactRemoved, lambda e: e.uri == "sip:carol@contoso.lab")
        await again.move_contact("bob@contoso.lab", "Colleagues")
        await wait_for(again, sfbkit.ContactModified, lambda e: e.after.uri == "sip:bob@contoso.lab")
        await again.remove_group("Friends")
        await wait_for(again, sfbkit.GroupRemoved, lambda e: e.id == friends.id)

    final = lab_pool.contact_list("alice")
    assert [c["uri"] for c in final["contacts"]] == ["bob@contoso.lab"], final
    assert "Friends" not in [g["name"] for g in final["groups"]]


async def test_unknown_groups_are_errors(lab_pool: LabPool) -> None:
    async with lab_pool.client("alice") as alice:
        await wait_for(alice, sfbkit.GroupAdded, lambda e: e.group.name == "Colleagues")
        with pytest.raises(sfbkit.Error) as e:
            await alice.rename_group("No such group", "x")
        assert e.value.error_class == "no-such-group"
        with pytest.raises(sfbkit.CommandFailed) as c:
            await alice.add_contact("dave@contoso.lab", group="No such group")
        assert c.value.error_class == "invalid-request"


async def test_normalize_uses_the_dial_plan_of_seed_003(lab_pool: LabPool) -> None:
    async with lab_pool.client("alice") as alice:
        loaded = await wait_for(alice, sfbkit.LocationProfileLoaded)
        assert loaded.rules == 5
        provisioning = alice.provisioning()
        assert provisioning is not None and provisioning.location_profile_name == loaded.name
        assert provisioning.group("ServerConfiguration") is not None
        profile = alice.location_profile()
        assert profile is not None and len(profile.rules) == 5 and profile.external_access_prefix == "9"
        expected = {
            "123456": ("+441785123456", 1),
            "01785 123456": ("+441785123456", 2),
            "0044207946001": ("+44207946001", 3),
            "999": ("+999", 4),
            "+44 (0)20 7946 0018": ("+442079460018", 5),
        }
        for dialed, (output, rule) in expected.items():
            n = alice.normalize(dialed)
            assert (n.output, n.rule.index if n.rule else None) == (output, rule), (dialed, n)
        unmatched = alice.normalize("+1 425 555 0100")
        assert unmatched.output is None and unmatched.rule is None


async def test_normalize_before_the_dial_plan_is_an_error() -> None:
    client = sfbkit.Client("alice@contoso.lab", keystore="memory")
    with pytest.raises(sfbkit.Error) as e:
        client.normalize("123456")
    assert e.value.error_class == "no-location-profile" and e.value.hint
