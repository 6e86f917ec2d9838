"""The lab pool from Python: a Skype for Business pool in this process, on loopback, for tests and QA.

::

    async with LabPool(faults=["ntlm-only"]) as lab:
        async with lab.client("alice") as alice:
            ...

The pool runs on sfbkit's own threads, not on the asyncio loop, so one pool serves clients in any loop (and
``with LabPool() as lab:`` works without asyncio). Every fault name is listed in
``tests/lab/lab.example.toml`` and by ``sfbkit signin --help``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

from . import _native
from .client import Client, _options
from .errors import LabError

if TYPE_CHECKING:
    from . import blocking

__all__ = ["LabBinding", "LabPool", "LabUser"]

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class LabUser:
    """A user of the lab's directory. Passwords stay inside the lab (``lab.client(...)`` uses them)."""

    sip_uri: str
    """``sip:alice@contoso.lab``."""
    display_name: str
    """``Alice Anders``."""
    account: str
    """The Windows account NTLM uses."""
    disabled: bool
    """A disabled user is refused."""
    home_pool: Optional[str]
    """The pool the user is homed on, when not this one (the registrar redirects)."""

    @property
    def name(self) -> str:
        """The user part of the SIP URI (``alice``)."""
        return self.sip_uri.split(":", 1)[-1].split("@", 1)[0]


@dataclass(frozen=True)
class LabBinding:
    """One endpoint registered at the lab's registrar."""

    aor: str
    """``alice@contoso.lab``."""
    epid: str
    """The endpoint's epid."""
    gruu: str
    """The GRUU the registrar gave it."""
    expires: int
    """Seconds the registration lasts."""


class LabPool:
    """A lab pool: DNS, autodiscover, web ticket and certificate provisioning services, and a registrar, on
    127.0.0.1 with ports the system chooses.

    ``faults`` switches on faults by name (``ntlm-only``, ``wrong-cert-name``...), ``delay_ms`` delays every
    DNS, HTTP and SIP answer, ``config`` is a lab configuration file (TOML, as ``tests/lab/lab.example.toml``),
    ``state_dir`` keeps the lab's CA between runs, ``kerberos=True`` runs a Kerberos realm for the domain (a real
    MIT KDC: Debian's krb5-kdc, krb5-admin-server and krb5-user must be installed). Start it with ``async with``, ``with``, :meth:`start` or
    :meth:`start_blocking`; :meth:`stop` (or leaving the block) stops it.
    """

    def __init__(
        self,
        faults: Sequence[str] = (),
        delay_ms: int = 0,
        config: Optional[PathLike] = None,
        *,
        state_dir: Optional[PathLike] = None,
        kerberos: bool = False,
    ) -> None:
        if not getattr(_native, "HAS_LAB", False):
            raise LabError(
                "this sfbkit was built without the lab pool (a client-only wheel)",
                error_class="no-lab",
                hint="install sfbkit with its default features: pip install ./python",
            )
        if isinstance(faults, str):
            faults = [faults]
        self._faults = [str(f) for f in faults]
        self._delay_ms = int(delay_ms)
        self._config = os.fspath(config) if config is not None else None
        self._state_dir = os.fspath(state_dir) if state_dir is not None else None
        self._kerberos = bool(kerberos)
        self._native: Optional[_native.Lab] = None
        self._info: Dict[str, Any] = {}
        self._ca_dir: Optional[tempfile.TemporaryDirectory[str]] = None

    def __repr__(self) -> str:
        if self._native is None:
            return "<sfbkit.lab.LabPool (stopped)>"
        return f"<sfbkit.lab.LabPool {self.pool_fqdn} for {self.domain}, DNS {self.dns}, registrar {self.registrar}>"

    # -- starting and stopping ------------------------------------------------------------------------

    def _started(self, native: _native.Lab) -> LabPool:
        self._native = native
        self._info = json.loads(native.describe())
        self._ca_dir = tempfile.TemporaryDirectory(prefix="sfbkit-lab-")
        Path(self._ca_dir.name, "lab-ca.pem").write_text(native.ca_pem(), encoding="ascii")
        return self

    async def start(self) -> LabPool:
        """Starts the pool; returns it."""
        if self._native is not None:
            return self
        native = await _native.Lab.start(
            self._faults, self._delay_ms, self._config, self._state_dir, self._kerberos
        )
        return self._started(native)

    def start_blocking(self) -> LabPool:
        """Starts the pool without asyncio; returns it."""
        if self._native is not None:
            return self
        return self._started(_native.Lab.start_blocking(
                self._faults, self._delay_ms, self._config, self._state_dir, self._kerberos
            ))

    def stop(self) -> None:
        """Stops the pool: every connection closes. Does nothing when it is stopped."""
        native, self._native = self._native, None
        if native is not None:
            native.stop()
        if self._ca_dir is not None:
            self._ca_dir.cleanup()
            self._ca_dir = None

    @property
    def running(self) -> bool:
        """Whether the pool is running."""
        return self._native is not None and self._native.is_running()

    async def __aenter__(self) -> LabPool:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    def __enter__(self) -> LabPool:
        return self.start_blocking()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _lab(self) -> _native.Lab:
        if self._native is None:
            raise LabError("the lab pool is not running", error_class="not-running", hint="await lab.start() first")
        return self._native

    # -- what it is -----------------------------------------------------------------------------------

    @property
    def domain(self) -> str:
        """The SIP domain (``contoso.lab``)."""
        self._lab()
        return str(self._info["domain"])

    @property
    def pool_fqdn(self) -> str:
        """The pool's FQDN, which its certificates name."""
        self._lab()
        return str(self._info["pool_fqdn"])

    @property
    def dns(self) -> str:
        """The lab's DNS server, ``127.0.0.1:port`` (UDP and TCP), authoritative for the domain."""
        self._lab()
        return str(self._info["dns"])

    @property
    def kerberos_realm(self) -> Optional[str]:
        """The lab's Kerberos realm (``CONTOSO.LAB``) when it runs one (``kerberos=True`` or a Kerberos fault):
        a real MIT KDC, found through the lab's DNS; :meth:`client` signs the user in to it first."""
        self._lab()
        realm = self._info.get("kerberos")
        return str(realm["realm"]) if realm else None

    @property
    def registrar(self) -> str:
        """The registrar's address, ``127.0.0.1:port`` (SIP over TLS)."""
        self._lab()
        return str(self._info["registrar"])

    @property
    def web_ports(self) -> Tuple[int, int]:
        """The autodiscover ports: ``(https, http)``."""
        self._lab()
        https, http = self._info["web_ports"]
        return (int(https), int(http))

    @property
    def faults(self) -> Tuple[str, ...]:
        """The faults switched on."""
        self._lab()
        return tuple(self._info["faults"])

    @property
    def users(self) -> Tuple[LabUser, ...]:
        """The directory's users."""
        self._lab()
        return tuple(
            LabUser(
                sip_uri=u["sip_uri"],
                display_name=u["display_name"],
                account=u["account"],
                disabled=bool(u["disabled"]),
                home_pool=u.get("home_pool"),
            )
            for u in self._info["users"]
        )

    @property
    def ca_pem(self) -> str:
        """The lab CA's certificate (PEM): trust it to connect."""
        return self._lab().ca_pem()

    @property
    def ca_file(self) -> Path:
        """A file holding :attr:`ca_pem` while the pool runs (for ``Client(ca_files=[...])``, other clients)."""
        self._lab()
        assert self._ca_dir is not None
        return Path(self._ca_dir.name, "lab-ca.pem")

    def client_options(self) -> Dict[str, Any]:
        """The :class:`sfbkit.Client` options that point a client at this pool as a machine inside it: the lab's
        DNS, autodiscover ports, registrar port (for A-record fallbacks) and CA, and a keystore in memory. For
        clients :meth:`client` does not build: ``fleet.add("user1@contoso.lab", password=...,
        **lab.client_options())``."""
        self._lab()
        return {
            "dns": self.dns,
            "autodiscover_ports": self.web_ports,
            "a_record_port": int(self.registrar.rsplit(":", 1)[1]),
            "ca_files": [self.ca_file],
            "keystore": "memory",
        }

    def user(self, name: str) -> LabUser:
        """A user by name (``alice``), address (``alice@contoso.lab``) or SIP URI."""
        want = name.lower().split(":", 1)[-1] if name.lower().startswith("sip:") else name.lower()
        for u in self.users:
            address = u.sip_uri.split(":", 1)[-1].lower()
            if want in (address, u.name.lower()):
                return u
        names = ", ".join(u.name for u in self.users)
        raise LabError(f"the lab has no user {name!r}", error_class="no-such-user", hint=f"its users are {names}")

    def client(self, user: str, password: Optional[str] = None, **options: Any) -> Client:
        """A :class:`sfbkit.Client` for a lab user, set up as a machine inside the lab would be: the lab's DNS,
        autodiscover ports and CA, the user's account and password, and a keystore in memory. ``password``
        replaces the directory's (to test a wrong one); ``options`` are :class:`sfbkit.Client`'s."""
        u = self.user(user)
        if password is not None:
            options["password"] = password
            options.setdefault("account", u.account)
        native = self._lab().client(u.sip_uri, _options(options))
        return Client._wrap(native, u.sip_uri)

    def blocking_client(self, user: str, password: Optional[str] = None, **options: Any) -> "blocking.Client":
        """:meth:`client`, as a :class:`sfbkit.blocking.Client` (for tests and scripts without asyncio)."""
        from . import blocking

        return blocking.Client._wrap(self.client(user, password, **options))

    # -- test hooks -----------------------------------------------------------------------------------

    def drop_connections(self, user: str) -> int:
        """Drops every connection of the user, as a network failure would; returns how many."""
        return self._lab().drop_connections(self.user(user).sip_uri)

    def restart_sip(self, downtime: float = 0.0) -> int:
        """Restarts the SIP service: every connection drops, new ones are refused for ``downtime`` seconds,
        endpoint publications are gone. Returns how many connections dropped."""
        return self._lab().restart_sip(float(downtime))

    def disable_user(self, user: str) -> int:
        """Disables the user now (``Set-CsUser -Enabled $false``): their endpoints are deregistered
        (``ms-diagnostics`` 4141) and REGISTER is refused. Returns how many endpoints were told."""
        return self._lab().disable_user(self.user(user).sip_uri)

    def deregister(self, user: str, reason: str = "unregistered", preferred_registrar: Optional[str] = None) -> int:
        """Sends the user's endpoints a deregistration NOTIFY with ``event=reason`` (``unregistered``,
        ``rejected``, ``deactivated``, ``preferred-registrar-change``). Returns how many were told."""
        return self._lab().deregister(self.user(user).sip_uri, reason, preferred_registrar)

    def forge_deregistration(self, user: str) -> int:
        """Sends the user's endpoints a deregistration whose signature does not verify (a client must drop it)."""
        return self._lab().forge_deregistration(self.user(user).sip_uri)

    def publish_as(self, user: str, epid: str, body: str) -> int:
        """Publishes ``body`` (a ``publish`` XML document) for another endpoint of the user, as a second device
        would; returns the status the pool answered (200, 409...)."""
        return self._lab().publish_as(self.user(user).sip_uri, epid, body)

    def change_password(self, user: str, password: str) -> None:
        """Changes the user's password in the directory."""
        self._lab().change_password(self.user(user).sip_uri, password)

    @property
    def failed_logons(self) -> int:
        """Failed logons the directory counted (what an account lockout policy counts)."""
        return self._lab().failed_logons()

    def bindings(self) -> List[LabBinding]:
        """The endpoints registered right now."""
        return [
            LabBinding(aor=b["aor"], epid=b["epid"], gruu=b["gruu"], expires=int(b["expires"]))
            for b in json.loads(self._lab().bindings())
        ]

    def contact_list(self, user: str) -> Dict[str, Any]:
        """The user's contact list as the pool keeps it."""
        value: Dict[str, Any] = json.loads(self._lab().contact_list(self.user(user).sip_uri))
        return value
