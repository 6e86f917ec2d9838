"""The pytest plugin: a QA team's test written only against the public names and the lab_pool fixture."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import List

import pytest

from sfbkit.lab import LabPool

QA_TEST = textwrap.dedent(
    '''
    import pytest
    import sfbkit


    async def test_signin(lab_pool):
        client = lab_pool.client("alice")
        report = await client.sign_in()
        assert report.result == sfbkit.SignInResult.SUCCESS
        assert report.target and report.latency.total_seconds() > 0
        await client.sign_out()


    @pytest.mark.lab_pool(faults=["disabled-user"])
    async def test_disabled_user(lab_pool):
        with pytest.raises(sfbkit.SignInFailed) as failed:
            await lab_pool.client("alice").sign_in()
        assert failed.value.stage == "Authentication"
        assert failed.value.error_class == "disabled-user"


    def test_sync(lab_pool):
        with lab_pool.blocking_client("bob") as bob:
            assert bob.is_signed_in
    '''
)


@pytest.mark.parametrize(
    "plugins",
    [["-p", "no:asyncio"], ["-p", "asyncio", "-o", "asyncio_mode=strict"]],
    ids=["without-pytest-asyncio", "pytest-asyncio-strict"],
)
def test_a_qa_suite_runs_unchanged_with_junit_output(tmp_path: Path, plugins: List[str]) -> None:
    (tmp_path / "test_qa.py").write_text(QA_TEST)
    junit = tmp_path / "junit.xml"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugins, f"--junitxml={junit}", "test_qa.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout, result.stdout
    xml = junit.read_text()
    assert 'tests="3"' in xml and 'failures="0"' in xml and 'errors="0"' in xml, xml


def test_the_fixture_gives_a_running_pool_and_stops_it(lab_pool: LabPool) -> None:
    assert lab_pool.running and lab_pool.domain == "contoso.lab"
    assert lab_pool.user("alice").sip_uri == "sip:alice@contoso.lab"
    assert lab_pool.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
    lab_pool.stop()
    assert not lab_pool.running
