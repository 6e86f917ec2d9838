"""Each lab fault that stops sign-in raises SignInFailed with its stage and class; the others sign in."""

from __future__ import annotations

import pytest

import sfbkit
from sfbkit.lab import LabPool

# fault → (stage, error_class) of the step that ended the sign-in, as the Rust fault tests expect them.
FAILING = {
    "expired-cert": ("Connectivity Checks", "expired-certificate"),
    "refuse-sip": ("Connectivity Checks", "refused"),
    "wrong-password": ("Server Discovery", "wrong-credentials"),
    "unknown-user": ("Authentication", "unknown-user"),
    "disabled-user": ("Authentication", "disabled-user"),
    "offdomain-webticket-url": ("Server Discovery", "untrusted-server"),
    "mex-http-port": ("Server Discovery", "untrusted-server"),
    "sts-uri-elsewhere": ("Authentication", "untrusted-server"),
}

SIGNING_IN = [
    # The issued certificate has expired: named (class issued-certificate-invalid), not used; NTLM signs in.
    "expired-user-cert",
    "no-lyncdiscover",
    "no-lyncdiscover-no-srv",
    "wrong-cert-name",
    "redirect-loop",
    "ntlm-only",
    "tls10-only",
    # TLS 1.0 disabled on the pool: refused at the ClientHello, signed in offering TLS 1.2.
    "no-tls10",
    "invalid-ticket",
    "clock-skew",
    "proxy-auth",
    "online",
    "offdomain-autodiscover-redirect",
    "drop-register-1",
    "register-503",
    "webticket-500",
    "dead-first-srv",
]


@pytest.mark.parametrize("fault", sorted(FAILING))
async def test_a_failing_fault_raises_sign_in_failed(fault: str) -> None:
    stage, error_class = FAILING[fault]
    async with LabPool(faults=[fault]) as lab:
        client = lab.client("alice", sign_in_deadline=30)
        with pytest.raises(sfbkit.SignInFailed) as failed:
            await client.sign_in()
        e = failed.value
        assert (e.stage, e.error_class) == (stage, error_class), e.report.to_dict()
        assert e.hint, "every failure says what to do"
        assert e.report.failed_stage == stage and not client.is_signed_in
        assert lab.bindings() == []


@pytest.mark.parametrize("fault", SIGNING_IN)
async def test_a_recoverable_fault_still_signs_in(fault: str) -> None:
    async with LabPool(faults=[fault]) as lab:
        async with lab.client("alice", sign_in_deadline=30) as alice:
            assert alice.last_report is not None and alice.last_report.succeeded
            assert [b.aor for b in lab.bindings()] == ["alice@contoso.lab"]


async def test_a_deadline_ends_a_trickling_sign_in() -> None:
    async with LabPool(faults=["trickle"]) as lab:
        client = lab.client("alice", sign_in_deadline=2.0)
        with pytest.raises(sfbkit.SignInFailed) as failed:
            await client.sign_in()
        assert failed.value.error_class == "deadline" and failed.value.hint


def test_an_unknown_fault_names_the_known_ones() -> None:
    with pytest.raises(sfbkit.LabError, match="no-lyncdiscover"):
        LabPool(faults=["no-such-fault"]).start_blocking()


async def test_auth_and_tls_dsk_versions_choose_what_the_client_may_use() -> None:
    async with LabPool(faults=["no-tls10"]) as lab:
        # TLS 1.0 disabled on the pool, and this client limited to TLS 1.0: named, with what to change.
        client = lab.client("alice", tls_dsk_versions=("1.0", "1.0"), keystore="memory", sign_in_deadline=30)
        with pytest.raises(sfbkit.SignInFailed) as failed:
            await client.sign_in()
        assert failed.value.error_class == "tls-version"
        assert "TLS 1.0 is disabled on the pool" in str(failed.value)
        assert "--tls-dsk-max 1.2" in (failed.value.hint or "")
        # auth="ntlm" leaves TLS-DSK (and its TLS versions) out.
        async with lab.client("alice", auth="ntlm", tls_dsk_versions=("1.0", "1.0"), keystore="memory") as alice:
            assert alice.last_report is not None
            steps = [s.detail for s in alice.last_report.stages if s.step == "REGISTER"]
            assert any("using NTLM" in d for d in steps), steps
    with pytest.raises(sfbkit.ConfigurationError, match="auth"):
        sfbkit.Client("alice@contoso.lab", auth="digest")
    with pytest.raises(sfbkit.ConfigurationError, match="minimum TLS 1.2 is above the maximum TLS 1.0"):
        sfbkit.Client("alice@contoso.lab", tls_dsk_versions=("1.2", "1.0"))
