"""Locust users that are sfbkit endpoints: a load test that spreads over machines with Locust's own master and
workers (docs/performance.md, "Scale out with Locust").

Each Locust user is one endpoint: it signs in when it starts (through its worker's :class:`sfbkit.Fleet`, so
sign-ins are paced), runs its tasks, and signs out when it stops. Every sign-in and task is a Locust request
(type ``SIP``), timed, and a failure carries sfbkit's error class, so Locust's statistics and its failure table
show them; each worker also logs its fleet's counters (the stress tool's: logons, failures, disconnects,
response codes per operation) when the test stops.

Import it from a locustfile only (``import locust`` patches the process for gevent)::

    from sfbkit.locust import PresenceUser      # or subclass SfbUser with tasks of your own

and run ``locust -f locustfile.py --sfbkit-lab lab.json`` (``sfbkit lab --users N --json > lab.json``), or set
:attr:`SfbUser.client_options` and override :meth:`SfbUser.account` for a real pool.

sfbkit's calls wait in gevent's thread pool, the GIL released, so the worker's other users run meanwhile.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

import gevent  # type: ignore[import-untyped]
from locust import User, between, events, task
from locust.env import Environment

from .client import Client
from .errors import Error
from .fleet import Fleet
from .types import Availability

__all__ = ["PresenceUser", "SfbUser", "lab_settings"]

_log = logging.getLogger("sfbkit.locust")

T = TypeVar("T")

LAB_PASSWORD = "Lab-Passw0rd!"
"""The lab pool's default password (``sfbkit lab --users N`` gives it to every user it adds)."""


def _arguments(parser: Any, **_kwargs: Any) -> None:
    group = parser.add_argument_group("sfbkit")
    group.add_argument(
        "--sfbkit-lab",
        default="",
        help="the line `sfbkit lab --json` printed, in a file: the lab's users, DNS, CA and ports",
    )
    group.add_argument(
        "--sfbkit-rate",
        type=float,
        default=2.0,
        help="sign-ins started per second per worker (0: unpaced; default 2, the stress tool's)",
    )
    group.add_argument(
        "--sfbkit-threads",
        type=int,
        default=64,
        help="threads per worker in which sfbkit calls wait (at most this many calls at once; default 64)",
    )


events.init_command_line_parser.add_listener(_arguments)  # type: ignore[no-untyped-call]


def lab_settings(path: str) -> Tuple[List[str], Dict[str, Any]]:
    """The users (``user00000@contoso.lab``...) and :class:`sfbkit.Client` options of the lab pool that
    ``sfbkit lab --json`` described in the file at ``path``."""
    try:
        # The first line: `sfbkit lab --json` prints one JSON object on one line.
        info = json.loads(Path(path).read_text(encoding="utf-8").lstrip().split("\n", 1)[0])
        options: Dict[str, Any] = {
            "dns": info["dns"],
            "autodiscover_ports": (int(info["autodiscover_https_port"]), int(info["autodiscover_http_port"])),
            "a_record_port": int(str(info["registrar"]).rsplit(":", 1)[1]),
            "ca_files": [info["ca_file"]],
            "keystore": "memory",
        }
        return [str(u) for u in info["users"]], options
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        raise Error(
            f"{path} is not the line `sfbkit lab --json` prints ({type(e).__name__}: {e})",
            error_class="bad-lab-file",
            hint="sfbkit lab --users N --json > lab.json, then --sfbkit-lab lab.json",
        ) from None


class _Worker:
    """What a worker process's users share: its fleet and its slice of the users."""

    def __init__(self, environment: Environment) -> None:
        options = environment.parsed_options
        rate = float(getattr(options, "sfbkit_rate", 2.0))
        threads = int(getattr(options, "sfbkit_threads", 64))
        gevent.get_hub().threadpool.maxsize = max(1, threads)
        self.fleet = Fleet(sign_ins_per_second=rate if rate > 0 else None, max_in_flight=max(1, threads))
        lab = str(getattr(options, "sfbkit_lab", "") or "")
        self.users, self.options = lab_settings(lab) if lab else ([], {})
        self.positions = {user: i for i, user in enumerate(self.users)}
        # Worker k of n takes users k, k + n, k + 2n...: no two workers sign in as the same user.
        runner = environment.runner
        self.index = max(0, int(getattr(runner, "worker_index", 0)))
        self.stride = max(1, int(getattr(options, "expect_workers", 1) or 1))
        self.next = itertools.count()

    def slot(self) -> int:
        return self.index + next(self.next) * self.stride


_workers: Dict[int, _Worker] = {}


def _worker(environment: Environment) -> _Worker:
    worker = _workers.get(id(environment))
    if worker is None:
        worker = _workers[id(environment)] = _Worker(environment)
    return worker


def _report(environment: Environment, **_kwargs: Any) -> None:
    worker = _workers.get(id(environment))
    if worker is None:
        return
    stats = worker.fleet.stats()
    codes = "; ".join(
        f"{op} " + " ".join(f"{code}={n}" for code, n in sorted(c.items())) for op, c in sorted(stats.responses.items())
    )
    _log.info(
        "sfbkit fleet: endpoints=%d active=%d logon_attempts=%d logon_failures=%d disconnects=%d; %s",
        stats.endpoints,
        stats.active_endpoints,
        stats.logon_attempts,
        stats.logon_failures,
        stats.disconnects,
        codes,
    )


events.test_stop.add_listener(_report)  # type: ignore[no-untyped-call]


class SfbUser(User):
    """A Locust user that is one sfbkit endpoint. Subclass it with ``@task`` methods that use :meth:`call`.

    Users come from ``--sfbkit-lab`` unless :meth:`account` is overridden; :attr:`client_options` are
    :class:`sfbkit.Client` options added to the lab's (or the only ones, for a real pool)."""

    abstract = True
    wait_time = between(1, 3)
    client_options: Dict[str, Any] = {}
    """:class:`sfbkit.Client` options for every endpoint."""

    endpoint: Optional[Client] = None
    """This user's endpoint, once :meth:`on_start` built it."""

    def account(self, slot: int) -> Tuple[str, Dict[str, Any]]:
        """The SIP address and the :class:`sfbkit.Client` options (account, password...) of the ``slot``-th
        endpoint of this worker's slice. Default: the lab's users, with its default password."""
        users = _worker(self.environment).users
        if not users:
            raise Error(
                "no users: pass --sfbkit-lab FILE (sfbkit lab --users N --json > FILE) or override account()",
                error_class="no-users",
            )
        user = users[slot % len(users)]
        return user, {"account": user, "password": LAB_PASSWORD}

    def call(self, name: str, work: Callable[..., T], *args: Any) -> Optional[T]:
        """Runs ``work(*args)`` (a blocking sfbkit call) in the thread pool, timed, as a Locust request named
        ``name``; a failure is recorded with sfbkit's error class and returns ``None``."""
        started = time.perf_counter()
        result: Optional[T] = None
        failure: Optional[BaseException] = None
        try:
            result = gevent.get_hub().threadpool.apply(work, args)
        except Error as e:
            failure = e
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        self.environment.events.request.fire(
            request_type="SIP",
            name=name,
            response_time=elapsed_ms,
            response_length=0,
            exception=failure,
            context={},
        )
        return result

    def on_start(self) -> None:
        worker = _worker(self.environment)
        uri, options = self.account(worker.slot())
        self.endpoint = worker.fleet.add(uri, **{**worker.options, **self.client_options, **options})
        self.call("sign-in", worker.fleet.sign_in_blocking, self.endpoint)

    def on_stop(self) -> None:
        if self.endpoint is not None and self.endpoint.is_signed_in:
            self.call("sign-out", self.endpoint._native.sign_out_blocking)


class PresenceUser(SfbUser):
    """A presence bot: watches a few other users, publishes its availability now and then, and pings the
    registrar. Not abstract: a locustfile that imports it runs it as it is."""

    watches = 10
    """How many other users each endpoint watches once signed in."""

    def on_start(self) -> None:
        super().on_start()
        worker = _worker(self.environment)
        users = worker.users
        if self.endpoint is None or not self.endpoint.is_signed_in or not users:
            return
        me = worker.positions.get(self.endpoint.sip_uri[len("sip:") :], 0)
        watch = self.endpoint._native.watch_presence_blocking
        for k in range(1, min(self.watches, len(users) - 1) + 1):
            self.call("watch-presence", watch, "sip:" + users[(me + k) % len(users)])

    @task(3)
    def publish(self) -> None:
        if self.endpoint is not None and self.endpoint.is_signed_in:
            availability = (Availability.BUSY, Availability.AVAILABLE, Availability.AWAY)[int(time.time()) % 3]
            self.call("set-presence", self.endpoint._native.set_presence_blocking, availability.value, None)

    @task(1)
    def keep_alive(self) -> None:
        if self.endpoint is not None and self.endpoint.is_signed_in:
            self.call("keep-alive", self.endpoint._native.keep_alive_blocking)
