"""Kerberos from Python against the lab's real MIT KDC: two REGISTERs, Negotiate on the web services, and the
typed failures (a missing service principal, a KDC that cannot be reached) with their classes and hints."""

from __future__ import annotations

import pytest

import sfbkit
from sfbkit.lab import LabPool


async def test_kerberos_signs_in_with_two_registers() -> None:
    async with LabPool(kerberos=True) as lab:
        assert lab.kerberos_realm == "CONTOSO.LAB"
        for etypes in (["aes256"], ["rc4"]):
            async with lab.client("alice", auth="kerberos", kerberos_etypes=etypes) as alice:
                report = alice.last_report
                assert report is not None and report.succeeded
                registers = [s.step for s in report.stages if s.step.startswith("REGISTER") and s.stage == "Authentication"]
                assert registers == ["REGISTER", "REGISTER Kerberos (AP-REQ, signed)"], registers
                tickets = [s.detail for s in report.stages if s.step == "Kerberos service ticket"]
                assert tickets and ("rc4-hmac" if etypes == ["rc4"] else "aes256") in tickets[0], tickets
                assert any("Negotiate (Kerberos)" in s.detail for s in report.stages if "web ticket" in s.step)


@pytest.mark.parametrize(
    ("fault", "error_class", "hint"),
    [("kerberos-no-spn", "missing-spn", "setspn"), ("kdc-down", "kdc-unreachable", "port 88")],
)
async def test_kerberos_failures_are_typed(fault: str, error_class: str, hint: str) -> None:
    async with LabPool(faults=[fault]) as lab:
        client = lab.client("alice", auth="kerberos", sign_in_deadline=30)
        with pytest.raises(sfbkit.SignInFailed) as failed:
            await client.sign_in()
        assert failed.value.error_class == error_class
        assert hint in (failed.value.hint or "")
        # --auth auto goes on without Kerberos, and says why.
        async with lab.client("alice") as alice:
            assert alice.last_report is not None
            assert any("Kerberos skipped" in s.detail for s in alice.last_report.stages)
