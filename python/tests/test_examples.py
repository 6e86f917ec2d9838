"""The examples in examples/python run against the embedded lab pool."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


def run(*args: str, timeout: float = 120) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout)


def test_the_presence_bot_signs_in_and_prints_presence_events() -> None:
    out = run(str(EXAMPLES / "presence_bot.py"), "--run-for", "8")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "signed in as sip:alice@contoso.lab" in out.stdout, out.stdout
    assert "bob@contoso.lab is now Busy" in out.stdout, out.stdout
    assert "note set:" in out.stdout, out.stdout


def test_the_signin_check_exits_0_on_success_and_1_on_failure() -> None:
    ok = run(str(EXAMPLES / "signin_check.py"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Result    : Success" in ok.stdout, ok.stdout
    failed = run(str(EXAMPLES / "signin_check.py"), "--lab-fault", "disabled-user")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Result    : Failure" in failed.stdout and "disabled-user" in failed.stdout, failed.stdout
