"""N clients signed in from one Python process against the lab pool: sign-ins per second and memory per
client, printed next to the Rust endpoints benchmark's figures so the binding's cost is known.

Not a test: it prints figures and ratios. Install the package as users do (a release build) first:

    pip install ./python
    python python/bench/clients.py --clients 300 --rust     # --rust also runs `cargo bench --bench endpoints`

Each client is a distinct user (userNNNN@contoso.lab) signing in with NTLM (the lab's ntlm-only fault, as the
Rust benchmark does), 32 at a time, then settling (provisioning, dial plan, contact list, first publication).
Memory is the process's resident set before and after, lab pool included, as in the Rust benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import sfbkit
from sfbkit.lab import LabPool

ROOT = Path(__file__).resolve().parents[2]


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def settled(client: sfbkit.Client) -> bool:
    try:
        while True:
            if isinstance(await client.next_event(timeout=60), sfbkit.PresencePublished):
                return True
    except asyncio.TimeoutError:
        return False


async def measure(n: int, in_flight: int) -> Dict[str, float]:
    users = "".join(f'[[users]]\nsip_uri = "sip:user{i:04}@contoso.lab"\ndisplay_name = "User {i}"\n' for i in range(n))
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp, "lab.toml")
        config.write_text('faults = ["ntlm-only"]\n' + users)
        async with LabPool(config=config) as lab:
            before = rss_kib()
            started = time.monotonic()
            clients: List[sfbkit.Client] = []
            ok = 0
            for first in range(0, n, in_flight):
                batch = [lab.client(f"user{i:04}") for i in range(first, min(first + in_flight, n))]
                await asyncio.gather(*(c.sign_in() for c in batch))
                ok += sum(await asyncio.gather(*(settled(c) for c in batch)))
                clients.extend(batch)
            elapsed = time.monotonic() - started
            after = rss_kib()
            pings = time.monotonic()
            for c in clients:
                await c.keep_alive()
            ping_all = time.monotonic() - pings
            out = time.monotonic()
            await asyncio.gather(*(c.sign_out() for c in clients))
            return {
                "endpoints": n,
                "settled": ok,
                "wall_s": elapsed,
                "per_s": n / elapsed,
                "rss_before_mib": before / 1024,
                "rss_after_mib": after / 1024,
                "kib_per_endpoint": (after - before) / n,
                "ping_all_s": ping_all,
                "sign_out_s": time.monotonic() - out,
            }


def rust_figures(n: int) -> Optional[Dict[str, float]]:
    """Runs the Rust endpoints benchmark with the same N and reads its figures."""
    env = dict(os.environ, SFBKIT_BENCH_ENDPOINTS=str(n))
    run = subprocess.run(
        ["cargo", "bench", "-q", "-p", "sfbkit-e2e", "--bench", "endpoints"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        print(f"the Rust benchmark failed:\n{run.stderr[-2000:]}", file=sys.stderr)
        return None
    per_s = re.search(r"\(([\d.]+) endpoints/s", run.stdout)
    kib = re.search(r"RSS per endpoint \(client\+lab\)\s+([\d.]+) KiB", run.stdout)
    if not (per_s and kib):
        print(f"cannot read the Rust benchmark's output:\n{run.stdout}", file=sys.stderr)
        return None
    return {"per_s": float(per_s.group(1)), "kib_per_endpoint": float(kib.group(1))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--rust", action="store_true", help="also run the Rust endpoints benchmark with the same N")
    args = parser.parse_args()

    py = asyncio.run(measure(args.clients, args.in_flight))
    print(f"clients                        {py['endpoints']:.0f}  (one Python process, lab pool included)")
    print(f"signed in and settled          {py['settled']:.0f}")
    print(f"sign-in + settle, wall time    {py['wall_s']:.2f} s  ({py['per_s']:.1f} sign-ins/s, {args.in_flight} in flight)")
    print(f"RSS before / after             {py['rss_before_mib']:.0f} MiB / {py['rss_after_mib']:.0f} MiB")
    print(f"RSS per client (client+lab)    {py['kib_per_endpoint']:.1f} KiB")
    print(f"keep-alive of all, in turn     {py['ping_all_s']:.2f} s")
    print(f"sign-out of all                {py['sign_out_s']:.2f} s")
    if args.rust:
        rust = rust_figures(args.clients)
        if rust is not None:
            print(f"Rust endpoints benchmark       {rust['per_s']:.1f} sign-ins/s, {rust['kib_per_endpoint']:.1f} KiB per endpoint")
            print(
                f"ratio Python / Rust            sign-ins/s {py['per_s'] / rust['per_s']:.2f}x, "
                f"KiB per endpoint {py['kib_per_endpoint'] / rust['kib_per_endpoint']:.2f}x"
            )
    return 0 if py["settled"] == py["endpoints"] else 1


if __name__ == "__main__":
    sys.exit(main())
