"""sfbkit.blocking.Client: the same client without asyncio."""

from __future__ import annotations

import pytest

import sfbkit
import sfbkit.blocking
from sfbkit.lab import LabPool


def test_the_blocking_client_signs_in_publishes_and_reads_events() -> None:
    with LabPool() as lab:
        alice = sfbkit.blocking.Client(
            "alice@contoso.lab",
            account="alice@contoso.lab",
            password="Lab-Passw0rd!",
            dns=lab.dns,
            ca_files=[lab.ca_file],
            autodiscover_ports=lab.web_ports,
            keystore="memory",
        )
        with alice, lab.blocking_client("bob") as bob:
            assert alice.is_signed_in and alice.last_report is not None and alice.last_report.succeeded
            bob.set_presence(sfbkit.Availability.DO_NOT_DISTURB)
            kinds = []
            for event in alice.events(timeout=10):
                kinds.append(type(event).__name__)
                if isinstance(event, sfbkit.PresenceChanged) and event.availability is sfbkit.Availability.DO_NOT_DISTURB:
                    break
            else:
                pytest.fail(f"bob's status did not arrive: {kinds}")
            assert alice.contacts().contact("bob@contoso.lab") is not None
            assert alice.normalize("999").output == "+999"
            assert alice.keep_alive().total_seconds() >= 0
            with pytest.raises(TimeoutError):
                while True:
                    alice.next_event(timeout=0.3)
        assert not alice.is_signed_in
        assert lab.bindings() == []


def test_a_failed_blocking_sign_in_raises_and_closes() -> None:
    with LabPool(faults=["unknown-user"]) as lab:
        client = lab.blocking_client("alice")
        with pytest.raises(sfbkit.SignInFailed) as e:
            with client:
                pass
        assert e.value.error_class == "unknown-user"
        client.close()
