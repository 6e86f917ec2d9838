"""Sign-in: the report's fields, its JSON against the CLI's, failures as SignInFailed, async with."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
from pathlib import Path

import pytest

import sfbkit
from sfbkit.lab import LabPool

ROOT = Path(__file__).resolve().parents[2]


async def test_the_report_has_test_csregistration_fields(lab_pool: LabPool) -> None:
    client = lab_pool.client("alice")
    report = await client.sign_in()
    try:
        assert report.result is sfbkit.SignInResult.SUCCESS and report.succeeded
        assert report.target.startswith(lab_pool.pool_fqdn), report.target
        assert report.user == "sip:alice@contoso.lab"
        assert isinstance(report.latency, datetime.timedelta) and report.latency > datetime.timedelta(0)
        assert report.error is None and report.diagnosis is None and report.hint is None
        stages = [s.stage for s in report.stages]
        for stage in ("Local Discovery", "Server Discovery", "Connectivity Checks", "Authentication"):
            assert stage in stages, stages
        assert report.stages[-1].step.startswith("REGISTER") and report.stages[-1].outcome == "Success"
        assert report.registration is not None and report.registration.expires_s > 0
        assert report.registration.gruu and ";gruu" in report.registration.gruu
        assert client.is_signed_in and client.last_report is report
        d = report.to_dict()
        assert d["result"] == "Success" and d["latency_ms"] == pytest.approx(report.latency_ms)
        assert len(d["stages"]) == len(report.stages)
    finally:
        await client.sign_out()
    assert not client.is_signed_in


def test_to_dict_has_the_shape_of_the_cli_json(lab_pool: LabPool, tmp_path: Path) -> None:
    """``to_dict()`` is the JSON ``sfbkit signin --lab --json`` prints: same keys, at every level."""
    cli = Path(os.environ.get("SFBKIT_CLI", ROOT / "target" / "debug" / "sfbkit"))
    assert cli.exists(), f"{cli} is missing: build it with `cargo build --bin sfbkit` (or set SFBKIT_CLI)"
    out = subprocess.run(
        [str(cli), "signin", "--lab", "--json", "--keystore", "memory", "--lab-state", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    from_cli = json.loads(out.stdout)

    client = lab_pool.blocking_client("alice")
    with client:
        assert client.last_report is not None
        ours = client.last_report.to_dict()

    assert set(ours) == set(from_cli)
    assert {k for s in ours["stages"] for k in s} <= {k for s in from_cli["stages"] for k in s} | {"hint", "error_class"}
    assert set(ours["registration"]) == set(from_cli["registration"])
    # The CLI signs out before printing, and says so in the report; the Python report ends at sign-in.
    assert from_cli["stages"][-1]["name"] == "Sign Out"
    assert [s["name"] for s in ours["stages"]][:3] == [s["name"] for s in from_cli["stages"]][:3]


async def test_async_with_signs_in_and_always_signs_out(lab_pool: LabPool) -> None:
    client = lab_pool.client("alice")
    with pytest.raises(RuntimeError, match="inside"):
        async with client:
            assert client.is_signed_in
            assert len(lab_pool.bindings()) == 1
            raise RuntimeError("an error inside the block")
    assert not client.is_signed_in
    assert lab_pool.bindings() == [], "the registrar saw the sign-out"


async def test_a_wrong_password_raises_sign_in_failed_with_stage_class_and_hint(lab_pool: LabPool) -> None:
    client = lab_pool.client("alice", password="not-the-password")
    with pytest.raises(sfbkit.SignInFailed) as failed:
        await client.sign_in()
    e = failed.value
    assert isinstance(e, sfbkit.Error)
    assert e.error_class == "wrong-credentials" and e.stage in ("Server Discovery", "Authentication")
    assert e.hint and e.report.result is sfbkit.SignInResult.FAILURE
    assert e.report.error and e.report.error_class == "wrong-credentials"
    assert "not-the-password" not in str(e) + json.dumps(e.report.to_dict())
    assert not client.is_signed_in


async def test_bad_options_are_configuration_errors() -> None:
    with pytest.raises(sfbkit.ConfigurationError) as e:
        sfbkit.Client("not a sip uri")
    assert e.value.error_class == "invalid-sip-uri" and e.value.stage == "Configuration"
    with pytest.raises(sfbkit.ConfigurationError, match="password"):
        sfbkit.Client("alice@contoso.com", account="CONTOSO\\alice")
    with pytest.raises(sfbkit.ConfigurationError, match="CA file"):
        sfbkit.Client("alice@contoso.com", ca_files=["/nonexistent/ca.pem"])
    with pytest.raises(sfbkit.ConfigurationError, match="IP address"):
        sfbkit.Client("alice@contoso.com", dns=["not-an-address"])
    with pytest.raises(sfbkit.ConfigurationError, match="FQDN"):
        sfbkit.Client("alice@contoso.com", server="pool..contoso.com")
    with pytest.raises(sfbkit.ConfigurationError, match="keystore"):
        sfbkit.Client("alice@contoso.com", keystore="nowhere")
    with pytest.raises(sfbkit.ConfigurationError, match="no get"):
        sfbkit.Client("alice@contoso.com", keystore=object())  # type: ignore[arg-type]
    with pytest.raises(sfbkit.NotSignedIn):
        await sfbkit.Client("alice@contoso.com", keystore="memory").set_note("never signed in")


async def test_a_server_and_addr_skip_discovery(lab_pool: LabPool) -> None:
    client = sfbkit.Client(
        "alice@contoso.lab",
        account="alice@contoso.lab",
        password="Lab-Passw0rd!",
        server=(lab_pool.pool_fqdn, int(lab_pool.registrar.rsplit(":", 1)[1])),
        addr=lab_pool.registrar,
        dns=lab_pool.dns,
        ca_files=[lab_pool.ca_file],
        keystore="memory",
        autodiscover_ports=lab_pool.web_ports,
    )
    async with client:
        discovery = [s for s in client.last_report.stages if s.stage == "Server Discovery"] if client.last_report else []
        assert all(s.outcome in ("Skipped", "Success") for s in discovery), discovery
