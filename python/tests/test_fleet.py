"""sfbkit.Fleet against the lab pool: paced sign-ins, and the stress tool's counters from what happened; and a
Locust load test with one master and two workers (sfbkit.locust), as docs/performance.md runs it."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest

import sfbkit
from sfbkit.lab import LabPool

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "locust"


def _lab_config(path: Path, users: int) -> Path:
    """A lab with `users` load-test users (as `sfbkit lab --users N` adds them), NTLM only."""
    lines = ['faults = ["ntlm-only"]']
    for i in range(users):
        lines += ["[[users]]", f'sip_uri = "sip:user{i:05}@contoso.lab"', f'display_name = "User {i}"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_a_fleet_paces_sign_ins_and_counts_what_happened(tmp_path: Path) -> None:
    async with LabPool(config=_lab_config(tmp_path / "lab.toml", 5)) as lab:
        fleet = sfbkit.Fleet(sign_ins_per_second=20.0, max_in_flight=4, event_buffer=2, **lab.client_options())
        address = "user{:05}@contoso.lab".format
        clients = [fleet.add(address(i), account=address(i), password="Lab-Passw0rd!") for i in range(4)]
        # Its own option wins over the fleet's.
        clients.append(fleet.add(address(4), account=address(4), password="Lab-Passw0rd!", event_buffer=1000))
        wrong = fleet.add(address(0), account=address(0), password="not-the-password")
        assert len(fleet) == 6 and fleet.clients[-1] is wrong

        started = time.monotonic()
        assert await fleet.sign_in_all() == 5
        assert time.monotonic() - started >= 0.25, "six starts at 20 per second span at least 250 ms"
        assert all(c.is_signed_in for c in clients) and not wrong.is_signed_in

        stats = fleet.stats()
        assert (stats.endpoints, stats.active_endpoints) == (6, 5)
        assert (stats.logon_attempts, stats.logon_failures) == (6, 1)
        assert stats.responses["REGISTER"][200] == 5
        assert stats.responses_with(401) >= 6, stats.responses
        assert stats.disconnects == 0

        # One sign-in through the fleet, with its report; the failure raises as Client.sign_in does.
        with pytest.raises(sfbkit.SignInFailed) as failed:
            await fleet.sign_in(wrong)
        # The fleet's clients share one record of refused passwords: the refused one is not sent again so soon.
        assert failed.value.report.error_class == "credentials-withheld"
        assert fleet.stats().logon_failures == 2

        await fleet.sign_out_all()
        assert fleet.stats().active_endpoints == 0

        # Nobody read the events: the fleet's endpoints kept the last two, and how many they missed.
        async def unread(client: sfbkit.Client) -> List[sfbkit.Event]:
            events: List[sfbkit.Event] = []
            while True:
                try:
                    events.append(await client.next_event(timeout=0.5))
                except asyncio.TimeoutError:
                    return events

        kept = await unread(clients[0])
        assert isinstance(kept[0], sfbkit.Lagged) and kept[0].missed >= 1, kept
        assert len(kept) == 3 and isinstance(kept[-1], sfbkit.SignedOut), kept
        own = await unread(clients[4])
        assert len(own) > 3 and not any(isinstance(e, sfbkit.Lagged) for e in own), own


def test_unknown_fleet_options_are_refused_at_once() -> None:
    with pytest.raises(TypeError, match="colour"):
        sfbkit.Fleet(colour="blue")
    with pytest.raises(ValueError):
        sfbkit.Fleet(max_in_flight=0)
    with pytest.raises(ValueError, match="event_buffer"):
        sfbkit.Fleet(event_buffer=-1)
    with pytest.raises(ValueError, match="event_buffer"):
        sfbkit.Client("alice@contoso.lab", event_buffer=-1)


def _locust(*args: str, log: Path) -> "subprocess.Popen[bytes]":
    command = [sys.executable, "-m", "locust", "-f", str(EXAMPLES / "locustfile.py"), *args]
    return subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=log.parent)


def test_locust_with_a_master_and_two_workers_drives_sfbkit_endpoints(tmp_path: Path) -> None:
    users = 12
    with LabPool(config=_lab_config(tmp_path / "lab.toml", users)) as lab:
        # What `sfbkit lab --users N --json` prints, for this in-process lab.
        https, http = lab.web_ports
        description = {
            "dns": lab.dns,
            "autodiscover_https_port": https,
            "autodiscover_http_port": http,
            "registrar": lab.registrar,
            "ca_file": str(lab.ca_file),
            "users": [u.sip_uri[len("sip:") :] for u in lab.users],
        }
        (tmp_path / "lab.json").write_text(json.dumps(description), encoding="utf-8")
        port = 5557 + os.getpid() % 1000
        master = _locust(
            "--master", "--headless", "--expect-workers", "2", "--master-bind-port", str(port),
            "-u", str(users), "-r", "12", "-t", "12s", "--csv", "run", "--sfbkit-lab", "lab.json",
            "--sfbkit-rate", "0", "--stop-timeout", "10",
            log=tmp_path / "master.log",
        )
        workers = [
            _locust("--worker", "--master-port", str(port), "--sfbkit-lab", "lab.json", log=tmp_path / f"worker{i}.log")
            for i in range(2)
        ]
        try:
            code = master.wait(timeout=120)
        finally:
            for w in workers:
                try:
                    w.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    w.kill()
        logs = {p.name: p.read_text(errors="replace") for p in tmp_path.glob("*.log")}
        assert code == 0, logs["master.log"][-3000:]

        rows: Dict[str, Dict[str, str]] = {}
        with (tmp_path / "run_stats.csv").open(newline="") as f:
            for row in csv.DictReader(f):
                rows[row["Name"]] = row
        assert int(rows["sign-in"]["Request Count"]) == users, rows
        assert int(rows["sign-in"]["Failure Count"]) == 0, logs
        assert int(rows["watch-presence"]["Request Count"]) == users * 10
        assert int(rows["Aggregated"]["Failure Count"]) == 0, logs
        # Each worker signed its own users in: 6 each, no user twice.
        fleets: List[str] = [line for text in logs.values() for line in text.splitlines() if "sfbkit fleet:" in line]
        assert len(fleets) == 2, logs
        assert all("endpoints=6 " in line and "logon_failures=0" in line for line in fleets), fleets
        # And each signed out when Locust stopped it.
        assert int(rows["sign-out"]["Request Count"]) == users, rows
        assert lab.bindings() == [], "no endpoint is left registered"


async def test_the_sign_in_cache_skips_discovery_and_can_be_turned_off(lab_pool: LabPool) -> None:
    store = sfbkit.MemoryStore()

    def discovery_steps(report: sfbkit.SignInReport) -> List[str]:
        return [s.step for s in report.stages if s.stage == "Server Discovery"]

    async with lab_pool.client("alice", keystore=store) as first:
        assert any("lyncdiscoverinternal" in step for step in discovery_steps(first.last_report or _missing()))
    async with lab_pool.client("alice", keystore=store) as second:
        assert discovery_steps(second.last_report or _missing()) == ["cached registrar"]
    async with lab_pool.client("alice", keystore=store, sign_in_cache_ttl=0) as third:
        steps = discovery_steps(third.last_report or _missing())
        assert "cached registrar" not in steps and any("lyncdiscoverinternal" in s for s in steps), steps


def _missing() -> sfbkit.SignInReport:
    raise AssertionError("no report after a sign-in")
