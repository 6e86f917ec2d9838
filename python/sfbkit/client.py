"""The asyncio client: ``sfbkit.Client``."""

from __future__ import annotations

import asyncio
import datetime
import inspect
import json
import logging
import os
import threading
import types
from dataclasses import dataclass
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    Union,
)

from . import _native
from .errors import Error, NotSignedIn, SignInFailed, WrongEventLoop
from .events import Event, SignedOut, SignInAbandoned, _from_json
from .keystore import SecretStore
from .types import (
    Availability,
    ContactList,
    ContactPresence,
    LocationProfile,
    Normalized,
    Provisioning,
    SignInReport,
)

__all__ = ["Client", "EventSubscription", "LockoutPolicy", "ReconnectPolicy"]

_log = logging.getLogger("sfbkit")

E = TypeVar("E", bound=Event)
Handler = Callable[[E], Optional[Awaitable[None]]]
"""An event handler: a function or coroutine function taking the event."""

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class ReconnectPolicy:
    """How a signed-in client retries after losing its connection (default: 1 s doubling to 60 s, ±20 %)."""

    initial: float = 1.0
    """The first wait, in seconds."""
    max: float = 60.0
    """The longest wait, in seconds."""
    jitter: float = 0.2
    """Random spread of each wait, from 0 to 1."""


@dataclass(frozen=True)
class LockoutPolicy:
    """How many refused passwords an account may collect before sfbkit stops sending one (default: 3 per
    30 minutes; a refused password is sent again after 1 minute, then 2...). See README "Account safety"."""

    max_refusals: int = 3
    """Refusals per account within ``window`` after which no password is sent."""
    window: float = 1800.0
    """The counting window, in seconds."""
    retry_delay: float = 60.0
    """The wait before a refused password is sent again, in seconds (doubled each time)."""


def _seconds(value: Union[None, float, datetime.timedelta]) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return float(value)


def _count(name: str, value: Optional[int]) -> Optional[int]:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"{name} must be a whole number of at least 0, not {value!r}")
    return value


def _path(path: Optional[PathLike]) -> Optional[str]:
    return os.fspath(path) if path is not None else None


def _versions(versions: Optional[Sequence[str]]) -> Optional[Tuple[str, str]]:
    if versions is None:
        return None
    low, high = versions
    return (str(low), str(high))


def _server(server: Union[None, str, Tuple[str, int]]) -> Optional[Tuple[str, int]]:
    if server is None:
        return None
    if isinstance(server, tuple):
        return (str(server[0]), int(server[1]))
    host, sep, port = server.rpartition(":")
    if sep and host and ":" not in host and port.isdigit():
        return (host, int(port))
    return (server, 5061)


def _options(given: Mapping[str, Any]) -> Dict[str, Any]:
    """The dict ``_native.Client`` reads (every key present) from :class:`Client`'s keyword options; an option
    not given (or ``None``) keeps the core's default."""
    unknown = set(given) - _option_names()
    if unknown:
        raise TypeError(f"unknown sfbkit.Client options: {', '.join(sorted(unknown))}")
    get = given.get
    dns = get("dns")
    kdc = get("kdc")
    reconnect: Optional[ReconnectPolicy] = get("reconnect")
    lockout: Optional[LockoutPolicy] = get("lockout")
    trusted_domains = get("trusted_domains")
    return {
        "account": get("account"),
        "password": get("password"),
        "server": _server(get("server")),
        "addr": get("addr"),
        "dns": [dns] if isinstance(dns, str) else list(dns or []),
        "ca_files": [os.fspath(p) for p in get("ca_files") or ()],
        "keystore": get("keystore"),
        "trusted_domains": list(trusted_domains) if trusted_domains is not None else None,
        "user_agent": get("user_agent"),
        "epid": get("epid"),
        "connect_timeout": _seconds(get("connect_timeout")),
        "http_timeout": _seconds(get("http_timeout")),
        "sign_in_deadline": _seconds(get("sign_in_deadline")),
        "sign_in_cache_ttl": _seconds(get("sign_in_cache_ttl")),
        "event_buffer": _count("event_buffer", get("event_buffer")),
        "dns_lookup_limit": _seconds(get("dns_lookup_limit")),
        "autodiscover_ports": get("autodiscover_ports"),
        "autodiscover_format": get("autodiscover_format"),
        "autodiscover_over_http": get("autodiscover_over_http"),
        "a_record_port": get("a_record_port"),
        "adapter_preference": list(get("adapter_preference") or ()),
        "org_id_sts": get("org_id_sts"),
        "auth": get("auth"),
        "tls_dsk_versions": _versions(get("tls_dsk_versions")),
        "network_location": get("network_location"),
        "kerberos_ccache": _path(get("kerberos_ccache")),
        "kdc": [kdc] if isinstance(kdc, str) else list(kdc or []),
        "kerberos_etypes": list(get("kerberos_etypes") or ()),
        "reconnect": (reconnect.initial, reconnect.max, reconnect.jitter) if reconnect else None,
        "lockout": (lockout.max_refusals, lockout.window, lockout.retry_delay) if lockout else None,
    }


def _option_names() -> "frozenset[str]":
    """The keyword options of :class:`Client` (its signature is the one list of them)."""
    parameters = inspect.signature(Client.__init__).parameters.values()
    return frozenset(p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY)


class _EventReader:
    """Reads one native event stream. The wait for the next event is kept across time-outs and cancellations
    (shielded), so an event that arrives just as the caller gives up is returned by the next call, not lost."""

    def __init__(self, next_event: Callable[[], "Awaitable[str]"]) -> None:
        self._next_event = next_event
        self._pending: "Optional[asyncio.Future[str]]" = None

    def reset(self) -> None:
        self._pending = None

    async def next(self, timeout: Union[None, float, datetime.timedelta]) -> Event:
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._next_event())
        pending = self._pending
        try:
            text = await asyncio.wait_for(asyncio.shield(pending), _seconds(timeout))
        except (asyncio.TimeoutError, asyncio.CancelledError):
            # The caller gave up; the wait goes on (or has just finished) and the next call takes its event.
            if pending.cancelled():
                self._pending = None
            raise
        except BaseException:
            self._pending = None
            raise
        self._pending = None
        return _from_json(text)


class EventSubscription:
    """Another listener on a client's events, from when it was made (:meth:`Client.subscribe`): ``async for event
    in subscription``, ending after :class:`SignedOut` or :class:`SignInAbandoned`. Each listener sees every
    event, independently of :meth:`Client.events` and the other listeners."""

    def __init__(self, client: "Client", native: "_native.EventStream") -> None:
        self._client = client
        self._reader = _EventReader(native.next_event)
        self._ended = False

    async def next_event(self, timeout: Union[None, float, datetime.timedelta] = None) -> Event:
        """The next event (waits for one; ``asyncio.TimeoutError`` after ``timeout`` seconds)."""
        self._client._bind()
        return await self._reader.next(timeout)

    def __aiter__(self) -> "EventSubscription":
        return self

    async def __anext__(self) -> Event:
        if self._ended:
            raise StopAsyncIteration
        event = await self.next_event()
        if isinstance(event, (SignedOut, SignInAbandoned)):
            self._ended = True
        return event


class Client:
    """One Skype for Business endpoint, signed in the way the Microsoft client does.

    ``sip_uri`` is ``user@domain`` (``sip:`` optional). Without ``server``, server discovery finds the
    registrar (lyncdiscover, DNS SRV, A records); ``account`` and ``password`` are the Windows credentials for
    NTLM (``DOMAIN\\user`` or ``user@domain``). ``keystore`` is where TLS-DSK certificates are kept: ``"os"``
    (the default), ``"memory"``, or any object with ``get``/``set``/``delete`` (see
    :class:`sfbkit.SecretStore`, :class:`sfbkit.KeyringStore`).

    The other options are ``ClientBuilder``'s: times are seconds (or ``timedelta``), ``dns`` is one or more
    ``"ip:port"`` servers, ``ca_files`` are extra PEM roots (system roots stay trusted; checks are never off).
    ``auth`` is the SIP scheme (``"auto"``, ``"ntlm"``, ``"tls-dsk"``, ``"kerberos"``), ``tls_dsk_versions`` the
    ``(min, max)`` TLS versions inside TLS-DSK (``"1.0"``, ``"1.1"``, ``"1.2"``), ``network_location``
    ``"auto"``, ``"internal"`` or ``"external"`` (the path a remote user's client takes). Kerberos reads the FILE
    credential cache ``kerberos_ccache`` (default ``KRB5CCNAME``), asks the KDCs ``kdc`` (default: DNS SRV
    ``_kerberos._tcp.<realm>``) for ``kerberos_etypes`` session keys (``"aes256"``, ``"aes128"``, ``"rc4"``).
    ``sign_in_cache_ttl`` is how long the registrar of a sign-in is kept in the keystore and signed in to
    directly, without server discovery (default one hour; ``0`` turns the sign-in cache off, as a test of
    discovery wants). ``event_buffer`` is how many events wait for a reader that is behind before the oldest
    are dropped (default 4,096; the next read is then ``Lagged``, saying how many); a :class:`sfbkit.Fleet`
    keeps 16 unless told otherwise.

    A client belongs to the event loop it is first awaited in; ``async with client:`` signs in and always
    signs out.
    """

    def __init__(
        self,
        sip_uri: str,
        *,
        account: Optional[str] = None,
        password: Optional[str] = None,
        server: Union[None, str, Tuple[str, int]] = None,
        addr: Optional[str] = None,
        dns: Union[None, str, Sequence[str]] = None,
        ca_files: Sequence[PathLike] = (),
        keystore: Union[str, SecretStore] = "os",
        trusted_domains: Optional[Sequence[str]] = None,
        user_agent: Optional[str] = None,
        epid: Optional[str] = None,
        connect_timeout: Union[None, float, datetime.timedelta] = None,
        http_timeout: Union[None, float, datetime.timedelta] = None,
        sign_in_deadline: Union[None, float, datetime.timedelta] = None,
        sign_in_cache_ttl: Union[None, float, datetime.timedelta] = None,
        event_buffer: Optional[int] = None,
        dns_lookup_limit: Union[None, float, datetime.timedelta] = None,
        autodiscover_ports: Optional[Tuple[int, int]] = None,
        autodiscover_format: str = "xml",
        autodiscover_over_http: bool = True,
        a_record_port: Optional[int] = None,
        adapter_preference: Sequence[str] = (),
        org_id_sts: Optional[str] = None,
        auth: str = "auto",
        tls_dsk_versions: Tuple[str, str] = ("1.0", "1.2"),
        network_location: str = "auto",
        kerberos_ccache: Optional[PathLike] = None,
        kdc: Union[None, str, Sequence[str]] = None,
        kerberos_etypes: Sequence[str] = (),
        reconnect: Optional[ReconnectPolicy] = None,
        lockout: Optional[LockoutPolicy] = None,
    ) -> None:
        # Every keyword parameter above is an option of the same name.
        options = _options({name: value for name, value in locals().items() if name not in ("self", "sip_uri")})
        self._setup(_native.Client(sip_uri, options), sip_uri)

    @classmethod
    def _wrap(cls, native: _native.Client, sip_uri: str) -> Client:
        client = cls.__new__(cls)
        client._setup(native, sip_uri)
        return client

    def _setup(self, native: _native.Client, sip_uri: str) -> None:
        _native.refresh_log_level()
        self._native = native
        self._sip_uri = sip_uri if sip_uri.startswith("sip:") else "sip:" + sip_uri
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[int] = None
        self._handlers: List[Tuple[Type[Event], Callable[[Any], Optional[Awaitable[None]]]]] = []
        self._reader = _EventReader(native.next_event)
        self.last_report: Optional[SignInReport] = None
        """The report of the last sign-in, successful or not."""

    def __repr__(self) -> str:
        state = "signed in" if self.is_signed_in else "signed out"
        return f"<sfbkit.Client {self._sip_uri} ({state})>"

    # -- the loop this client belongs to ---------------------------------------------------------------

    def _bind(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise WrongEventLoop(
                "sfbkit.Client methods are awaited inside a running asyncio event loop",
                error_class="no-event-loop",
                hint="use `asyncio.run(...)`, or sfbkit.blocking.Client in code without asyncio",
            ) from None
        if self._loop is None or (self._loop.is_closed() and not self.is_signed_in):
            self._loop, self._thread = loop, threading.get_ident()
            self._reader.reset()
            return
        if self._loop is loop and self._thread == threading.get_ident():
            return
        if self._loop.is_closed():
            raise WrongEventLoop(
                "this client's event loop has closed while the client was signed in",
                error_class="loop-closed",
                hint="build a new Client in the new loop; the old one signs out when it is garbage-collected",
            )
        raise WrongEventLoop(
            "this client belongs to another thread or event loop",
            error_class="wrong-loop",
            hint="build one Client per event loop (sfbkit.blocking.Client has a loop of its own)",
        )

    # -- sign-in --------------------------------------------------------------------------------------

    @property
    def sip_uri(self) -> str:
        """The user's SIP URI (``sip:alice@contoso.com``)."""
        return self._sip_uri

    @property
    def epid(self) -> str:
        """The endpoint id this client registers with."""
        return self._native.epid()

    @property
    def is_signed_in(self) -> bool:
        """Whether the endpoint is signed in right now (false while reconnecting)."""
        return self._native.is_signed_in()

    @property
    def bad_signatures(self) -> int:
        """Messages from the server dropped because their signature did not verify."""
        return self._native.bad_signatures()

    async def sign_in(self) -> SignInReport:
        """Signs in, stage by stage, and returns the report. Raises :class:`sfbkit.SignInFailed` (carrying the
        report) when sign-in fails. The client then stays signed in until :meth:`sign_out`."""
        self._bind()
        _native.refresh_log_level()
        report = SignInReport._from_json(await self._native.sign_in())
        self.last_report = report
        if not report.succeeded:
            raise SignInFailed(report)
        return report

    async def sign_out(self) -> None:
        """Unpublishes, unsubscribes, unregisters and closes the connection. Does nothing when not signed in."""
        self._bind()
        try:
            await self._native.sign_out()
        except NotSignedIn:
            pass

    async def __aenter__(self) -> Client:
        await self.sign_in()
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[types.TracebackType],
    ) -> None:
        # Also on exceptions and cancellation: the sign-out is shielded from a cancellation of the task, so
        # the registrar hears it; if the task is cancelled again, dropping the client still signs out. A failed
        # sign-out never hides the exception that ended the block.
        try:
            await asyncio.shield(self.sign_out())
        except Error:
            if exc_type is None:
                raise
            _log.warning("signing out after %s failed", exc_type.__name__, exc_info=True)

    # -- events ---------------------------------------------------------------------------------------

    async def next_event(self, timeout: Union[None, float, datetime.timedelta] = None) -> Event:
        """The next event (waits for one; ``asyncio.TimeoutError`` after ``timeout`` seconds)."""
        self._bind()
        return await self._reader.next(timeout)

    def events(self) -> AsyncIterator[Event]:
        """The endpoint's events, in order, from when the client was built: ``async for event in
        client.events()``. The iteration ends after :class:`SignedOut` or :class:`SignInAbandoned`.
        :meth:`events` and :meth:`run_forever` read one stream: use one of them, and :meth:`subscribe` for more
        listeners."""
        return self._event_iterator()

    def subscribe(self) -> EventSubscription:
        """Another listener on the events, from now on: every event also reaches it, whatever reads
        :meth:`events`."""
        return EventSubscription(self, self._native.subscribe_events())

    async def _event_iterator(self) -> AsyncIterator[Event]:
        while True:
            event = await self.next_event()
            yield event
            if isinstance(event, (SignedOut, SignInAbandoned)):
                return

    def on(self, *event_classes: Type[E]) -> Callable[[Handler[E]], Handler[E]]:
        """A decorator registering a handler (function or coroutine function) for these event classes
        (all events when none is given), called by :meth:`run_forever`::

            @client.on(sfbkit.PresenceChanged)
            async def changed(event: sfbkit.PresenceChanged) -> None: ...
        """
        classes: Tuple[Type[Event], ...] = event_classes or (Event,)
        for cls in classes:
            if not (isinstance(cls, type) and issubclass(cls, Event)):
                raise TypeError(f"client.on() takes event classes (sfbkit.PresenceChanged...), not {cls!r}")

        def register(handler: Handler[E]) -> Handler[E]:
            if not callable(handler):
                raise TypeError("client.on(...) decorates a function")
            for cls in classes:
                self._handlers.append((cls, handler))
            return handler

        return register

    async def run_forever(self) -> None:
        """Signs in (when not signed in), then calls the handlers registered with :meth:`on` for every event,
        in order, until the endpoint signs out (``await client.sign_out()`` from a handler, or the server ends
        it). A handler's exception ends the run. Signs out when it ends, on exceptions and cancellation too."""
        if not self.is_signed_in:
            await self.sign_in()
        try:
            async for event in self.events():
                for cls, handler in list(self._handlers):
                    if isinstance(event, cls):
                        result = handler(event)
                        if inspect.isawaitable(result):
                            await result
        finally:
            await asyncio.shield(self.sign_out())

    # -- commands -------------------------------------------------------------------------------------

    async def keep_alive(self) -> datetime.timedelta:
        """Pings the registrar on the signed-in connection; the time until it answered."""
        self._bind()
        return datetime.timedelta(seconds=await self._native.keep_alive())

    async def set_presence(self, availability: Union[Availability, str], activity: Optional[str] = None) -> None:
        """Publishes a manual status (what a user picks in the Lync client), with an optional activity token
        (``in-a-meeting``, ``on-the-phone``...)."""
        self._bind()
        value = availability.value if isinstance(availability, Availability) else Availability(availability).value
        await self._native.set_presence(value, activity)

    async def clear_presence(self) -> None:
        """Withdraws the manual status: presence follows this endpoint's machine state again."""
        self._bind()
        await self._native.clear_presence()

    async def set_note(self, text: Optional[str]) -> None:
        """Publishes the personal note (``None`` or ``""`` removes it)."""
        self._bind()
        await self._native.set_note(text)

    async def add_contact(self, uri: str, name: str = "", group: Optional[str] = None) -> None:
        """Adds a contact (``sip:`` optional) to the named group (default: the default group)."""
        self._bind()
        await self._native.add_contact(uri, name, group)

    async def watch_presence(self, uri: str) -> None:
        """Watches someone's presence without adding them to the contact list: :class:`PresenceChanged` events
        and :meth:`presence_of` then cover them, as they cover contacts."""
        self._bind()
        await self._native.watch_presence(uri)

    async def unwatch_presence(self, uri: str) -> None:
        """Stops watching someone :meth:`watch_presence` added."""
        self._bind()
        await self._native.unwatch_presence(uri)

    async def remove_contact(self, uri: str) -> None:
        """Removes a contact."""
        self._bind()
        await self._native.remove_contact(uri)

    async def move_contact(self, uri: str, group: str) -> None:
        """Moves a contact to the named group (out of the groups it was in)."""
        self._bind()
        await self._native.move_contact(uri, group)

    async def add_group(self, name: str) -> int:
        """Creates a group; returns the id the server gave it."""
        self._bind()
        return await self._native.add_group(name)

    def _group_id(self, group: Union[int, str]) -> int:
        if isinstance(group, int):
            return group
        found = self.contacts().group(group)
        if found is None:
            raise Error(
                f"there is no group named {group!r}",
                error_class="no-such-group",
                hint="client.contacts().groups lists the groups",
            )
        return found.id

    async def rename_group(self, group: Union[int, str], name: str) -> None:
        """Renames a group, given by name or id."""
        self._bind()
        await self._native.rename_group(self._group_id(group), name)

    async def remove_group(self, group: Union[int, str]) -> None:
        """Removes a group, given by name or id."""
        self._bind()
        await self._native.remove_group(self._group_id(group))

    # -- views ----------------------------------------------------------------------------------------

    def contacts(self) -> ContactList:
        """The contact list as last received."""
        return ContactList._from_dict(json.loads(self._native.contacts()))

    def presence_of(self, uri: str) -> Optional[ContactPresence]:
        """A contact's presence as last notified (``None`` when nothing arrived yet)."""
        text = self._native.presence_of(uri)
        return ContactPresence._from_dict(json.loads(text)) if text is not None else None

    def provisioning(self) -> Optional[Provisioning]:
        """In-band provisioning (server configuration and policies), once received."""
        text = self._native.provisioning()
        return Provisioning._from_dict(json.loads(text)) if text is not None else None

    def location_profile(self) -> Optional[LocationProfile]:
        """The user's location profile (dial plan), once received."""
        text = self._native.location_profile()
        return LocationProfile._from_dict(json.loads(text)) if text is not None else None

    def normalize(self, number: str) -> Normalized:
        """Normalizes a dialed number with the user's dial plan: ``.output`` (``None`` when no rule matched)
        and ``.rule``. Raises :class:`sfbkit.Error` (class ``no-location-profile``) before the dial plan
        arrived."""
        text = self._native.normalize(number)
        if text is None:
            raise Error(
                "the user's dial plan has not arrived",
                error_class="no-location-profile",
                hint="sign in and wait for a LocationProfileLoaded event",
            )
        return Normalized._from_dict(json.loads(text))
