"""keystore= takes Python objects: a second sign-in finds the TLS-DSK certificate there and skips provisioning."""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import keyring.backend
import keyring.errors

import sfbkit
from sfbkit.lab import LabPool


def provisioned(report: sfbkit.SignInReport) -> bool:
    return any(s.step == "certificate provisioning" and s.outcome == "Success" for s in report.stages)


async def test_a_python_keystore_keeps_the_certificate_between_sign_ins(lab_pool: LabPool) -> None:
    store = sfbkit.MemoryStore()
    async with lab_pool.client("alice", keystore=store) as first:
        assert first.last_report is not None and provisioned(first.last_report)
    assert len(store) >= 1 and store.calls["set"] >= 1
    async with lab_pool.client("alice", keystore=store) as second:
        report = second.last_report
        assert report is not None
        assert not provisioned(report), [s.step for s in report.stages]
        assert any("TLS-DSK" in s.step for s in report.stages)
    assert store.calls["get"] >= 2


class DictKeyring(keyring.backend.KeyringBackend):
    """A keyring backend in a dict: what a desktop app's Keychain or Credential Manager is to keyring."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.entries: Dict[Tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> Optional[str]:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


async def test_keyring_backends_work_through_keyring_store(lab_pool: LabPool) -> None:
    backend = DictKeyring()
    store = sfbkit.KeyringStore(backend)
    async with lab_pool.client("alice", keystore=store):
        pass
    assert backend.entries, "the certificate went into the keyring"
    assert all(isinstance(v, str) for v in backend.entries.values())
    async with lab_pool.client("alice", keystore=store) as again:
        assert again.last_report is not None and not provisioned(again.last_report)
    assert store.delete("no such service", "nobody") is False


class Broken:
    def get(self, service: str, account: str) -> Optional[bytes]:
        raise OSError("keystore locked")

    def set(self, service: str, account: str, secret: bytes) -> None:
        raise OSError("keystore locked")

    def delete(self, service: str, account: str) -> bool:
        raise OSError("keystore locked")


async def test_a_failing_python_keystore_does_not_stop_sign_in(lab_pool: LabPool) -> None:
    async with lab_pool.client("alice", keystore=Broken()) as alice:
        assert alice.is_signed_in
        report = alice.last_report
        assert report is not None
        # The refusal is in the report, naming the exception's class only (its text could hold anything), and
        # sign-in went on with NTLM.
        failed = [s for s in report.stages if s.step == "certificate provisioning" and s.outcome == "Failure"]
        assert len(failed) == 1 and "set() raised OSError" in failed[0].detail, report.to_dict()
        assert any("signing in with NTLM" in w for w in report.warnings), report.warnings
        assert "keystore locked" not in str(report.to_dict())
