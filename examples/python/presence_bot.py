"""A presence bot: signs in, watches its contacts, sets its note when a watched contact goes Busy, and sets
its own availability on a schedule (Available in working hours, Away outside them).

Without arguments it runs against the embedded lab pool as alice, and signs bob in beside it so there is
something to watch: bob goes Busy a moment after the bot signs in. With --user it signs in to a real pool:

    python examples/python/presence_bot.py
    SFBKIT_PASSWORD=... python examples/python/presence_bot.py --user bot@contoso.com --account 'CONTOSO\\bot'
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import sys
from typing import Optional

import sfbkit
from sfbkit.lab import LabPool


def scheduled_availability(now: datetime.datetime) -> sfbkit.Availability:
    """Working hours (Monday to Friday, 9:00 to 17:00) are Available; the rest is Away."""
    working = now.weekday() < 5 and 9 <= now.hour < 17
    return sfbkit.Availability.AVAILABLE if working else sfbkit.Availability.AWAY


async def run_bot(client: sfbkit.Client, interval: float) -> None:
    @client.on(sfbkit.ContactAdded)
    def watching(event: sfbkit.ContactAdded) -> None:
        print(f"watching {event.contact.uri}", flush=True)

    @client.on(sfbkit.PresenceChanged)
    async def presence(event: sfbkit.PresenceChanged) -> None:
        status = event.availability.value if event.availability else "unknown"
        activity = f" ({event.activity})" if event.activity else ""
        print(f"{event.uri.split(':', 1)[-1]} is now {status}{activity}", flush=True)
        if event.availability is sfbkit.Availability.BUSY:
            note = f"{event.uri.split(':', 1)[-1]} is busy; I will pass messages on later"
            await client.set_note(note)
            print(f"note set: {note}", flush=True)

    @client.on(sfbkit.NoteChanged)
    def note(event: sfbkit.NoteChanged) -> None:
        print(f"{event.uri.split(':', 1)[-1]} says: {event.note or '(no note)'}", flush=True)

    async def schedule() -> None:
        while True:
            availability = scheduled_availability(datetime.datetime.now())
            await client.set_presence(availability)
            print(f"availability set: {availability.value} (schedule)", flush=True)
            await asyncio.sleep(interval)

    report = await client.sign_in()
    print(f"signed in as {client.sip_uri} at {report.target} in {report.latency_ms:.0f} ms", flush=True)
    scheduler = asyncio.ensure_future(schedule())
    try:
        await client.run_forever()
    finally:
        scheduler.cancel()


async def lab_companion(lab: LabPool) -> None:
    """bob, in the lab, goes Busy a moment after the bot signs in."""
    async with lab.client("bob") as bob:
        await asyncio.sleep(1.0)
        await bob.set_presence(sfbkit.Availability.BUSY, activity="in-a-meeting")
        await asyncio.Event().wait()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--user", help="the bot's SIP address (default: the embedded lab pool's alice)")
    parser.add_argument("--account", help="DOMAIN\\user or user@domain for NTLM")
    parser.add_argument("--password-env", default="SFBKIT_PASSWORD", help="the environment variable with the password")
    parser.add_argument("--server", help="registrar FQDN[:port] (default: discovered)")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between scheduled availability updates")
    parser.add_argument("--run-for", type=float, help="stop after this many seconds (default: run until Ctrl-C)")
    args = parser.parse_args()

    lab: Optional[LabPool] = None
    companion: Optional["asyncio.Future[None]"] = None
    if args.user is None:
        lab = await LabPool().start()
        client = lab.client("alice")
        companion = asyncio.ensure_future(lab_companion(lab))
    else:
        password = os.environ.get(args.password_env) if args.account else None
        if args.account and password is None:
            print(f"set the password in ${args.password_env}", file=sys.stderr)
            return 2
        client = sfbkit.Client(args.user, account=args.account, password=password, server=args.server)
    try:
        await asyncio.wait_for(run_bot(client, args.interval), args.run_for)
    except asyncio.TimeoutError:
        print(f"stopping after {args.run_for:g} s", flush=True)
    except sfbkit.SignInFailed as e:
        print(f"sign-in failed at {e.stage}: {e.report.error} ({e.error_class})\nhint: {e.hint}", file=sys.stderr)
        return 1
    finally:
        if companion is not None:
            companion.cancel()
            await asyncio.gather(companion, return_exceptions=True)
        if lab is not None:
            lab.stop()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(0)
