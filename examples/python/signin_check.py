"""A Test-CsRegistration-style sign-in check for QA: signs a user in and out, prints Target, Result, Latency,
Error, Diagnosis and Hint, and exits 0 on success, 1 on failure (2 when the check itself cannot run).

    python examples/python/signin_check.py                      # the embedded lab pool
    python examples/python/signin_check.py --lab-fault disabled-user
    SFBKIT_PASSWORD=... python examples/python/signin_check.py --user alice@contoso.com --account 'CONTOSO\\alice'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import List, Optional

import sfbkit
from sfbkit.lab import LabPool


def latency(report: sfbkit.SignInReport) -> str:
    """As PowerShell prints a TimeSpan: 00:00:00.5123456."""
    total = report.latency.total_seconds()
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{int(hours):02}:{int(minutes):02}:{seconds:010.7f}"


def show(report: sfbkit.SignInReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    error = report.error or ""
    if report.error_class:
        error += f" ({report.error_class})"
    print(f"Target    : {report.target}")
    print(f"User      : {report.user}")
    print(f"Result    : {report.result.value}")
    print(f"Latency   : {latency(report)}")
    print(f"Error     : {error}")
    print(f"Diagnosis : {report.diagnosis or ''}")
    print(f"Hint      : {report.hint or ''}")
    if not report.succeeded:
        print()
        for step in report.stages:
            if step.outcome == "Failure":
                print(f"  {step.stage} / {step.step} ({step.host}): {step.detail}")


async def check(client: sfbkit.Client, as_json: bool) -> int:
    try:
        report = await client.sign_in()
    except sfbkit.SignInFailed as failed:
        show(failed.report, as_json)
        return 1
    await client.sign_out()
    show(report, as_json)
    return 0


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--user", help="SIP address to check (default: the embedded lab pool's alice)")
    parser.add_argument("--account", help="DOMAIN\\user or user@domain for NTLM")
    parser.add_argument("--password-env", default="SFBKIT_PASSWORD", help="the environment variable with the password")
    parser.add_argument("--server", help="registrar FQDN[:port] (default: discovered)")
    parser.add_argument("--dns", action="append", default=[], help="DNS server IP:PORT (repeatable)")
    parser.add_argument("--ca-file", action="append", default=[], help="extra CA certificate, PEM (repeatable)")
    parser.add_argument("--lab-fault", action="append", default=[], help="a lab fault (with the embedded lab pool)")
    parser.add_argument("--json", action="store_true", help="print the report as the CLI's JSON")
    args = parser.parse_args()

    try:
        if args.user is None:
            async with LabPool(faults=args.lab_fault) as lab:
                return await check(lab.client("alice", sign_in_deadline=60), args.json)
        password: Optional[str] = os.environ.get(args.password_env) if args.account else None
        if args.account and password is None:
            print(f"set the password in ${args.password_env}", file=sys.stderr)
            return 2
        dns: List[str] = args.dns
        client = sfbkit.Client(
            args.user, account=args.account, password=password, server=args.server, dns=dns, ca_files=args.ca_file
        )
        return await check(client, args.json)
    except (sfbkit.ConfigurationError, sfbkit.LabError) as e:
        print(f"signin_check: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
