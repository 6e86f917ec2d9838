"""What happens to a signed-in endpoint, one immutable class per kind of event.

Every class has ``__match_args__``, so a bot can ``match`` on events (Python 3.10+)::

    match event:
        case sfbkit.PresenceChanged(uri, sfbkit.Availability.BUSY):
            ...
        case sfbkit.NoteChanged(uri, note):
            ...

``to_dict()`` gives the event as the core writes it (``sfbkit signin --stay N --json`` prints the same objects).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Type

from .types import Availability, Contact, ContactPresence, Group

__all__ = [
    "CertificateRenewalFailed",
    "CertificateRenewed",
    "ConnectionLost",
    "ConnectionRestored",
    "ContactAdded",
    "ContactModified",
    "ContactRemoved",
    "ContactsInExchange",
    "Deregistered",
    "DeregistrationReason",
    "Event",
    "GroupAdded",
    "GroupModified",
    "GroupRemoved",
    "Lagged",
    "LocationProfileLoaded",
    "LocationProfileRefused",
    "NoteChanged",
    "PresenceChanged",
    "PresencePublished",
    "ProvisioningUpdated",
    "Reconnecting",
    "Registered",
    "RegistrationRefreshed",
    "SignInAbandoned",
    "SignedOut",
    "UnknownEvent",
]


@dataclass(frozen=True)
class Event:
    """The base of every event."""

    def to_dict(self) -> Dict[str, Any]:
        """The event as the core writes it in JSON (``{"type": "presence_changed", ...}``)."""
        raw: Optional[Dict[str, Any]] = getattr(self, "_raw", None)
        return copy.deepcopy(raw) if raw is not None else {}


@dataclass(frozen=True)
class Registered(Event):
    """Registered: after sign-in, and again after each reconnect."""

    __match_args__ = ("registrar", "expires_s")

    registrar: str
    """The registrar signed in to."""
    expires_s: int
    """Seconds the registration lasts (refreshed before)."""


@dataclass(frozen=True)
class RegistrationRefreshed(Event):
    """The registration was refreshed before it expired."""

    __match_args__ = ("expires_s",)

    expires_s: int
    """Seconds the refreshed registration lasts."""


@dataclass(frozen=True)
class DeregistrationReason:
    """Why the registrar ended the registration ([MS-SIPREGE] 3.2)."""

    __match_args__ = ("kind",)

    kind: str
    """``unregistered``, ``rejected`` (user disabled), ``deactivated`` (moved pool),
    ``preferred_registrar_change`` or ``other``."""
    registrar: Optional[str] = None
    """For ``preferred_registrar_change``: the registrar to use."""
    event: Optional[str] = None
    """For ``other``: the reason as the server wrote it."""


@dataclass(frozen=True)
class Deregistered(Event):
    """The registrar ended the registration."""

    __match_args__ = ("reason", "reconnecting")

    reason: DeregistrationReason
    """Why."""
    reconnecting: bool
    """Whether the client signs in again by itself."""
    diagnostics_code: Optional[int] = None
    """``ms-diagnostics`` code, when the server sent one (4141: user disabled)."""
    diagnostics_reason: Optional[str] = None
    """``ms-diagnostics`` reason, when the server sent one."""


@dataclass(frozen=True)
class ConnectionLost(Event):
    """The connection to the registrar broke; the client reconnects."""

    __match_args__ = ("error",)

    error: str
    """What broke it."""


@dataclass(frozen=True)
class Reconnecting(Event):
    """A reconnect attempt is scheduled."""

    __match_args__ = ("attempt", "delay_ms")

    attempt: int
    """The attempt's number, from 1."""
    delay_ms: int
    """The wait before it."""
    last_error: Optional[str] = None
    """Why the previous attempt failed."""


@dataclass(frozen=True)
class ConnectionRestored(Event):
    """Signed in again after a loss: registration, subscriptions and publications restored."""

    __match_args__ = ("attempts", "downtime_ms")

    attempts: int
    """Attempts it took."""
    downtime_ms: int
    """Time without a registration."""


@dataclass(frozen=True)
class CertificateRenewed(Event):
    """The TLS-DSK certificate was renewed in the background before it expired."""

    __match_args__ = ("pool", "expires_unix")

    pool: str
    """The pool the certificate is for."""
    expires_unix: int
    """When the new certificate expires (seconds since 1970)."""


@dataclass(frozen=True)
class CertificateRenewalFailed(Event):
    """Renewing the TLS-DSK certificate failed; it is tried again while the old one is valid."""

    __match_args__ = ("error_class", "error")

    error_class: str
    """The failure's short class."""
    error: str
    """The failure in words."""


@dataclass(frozen=True)
class SignInAbandoned(Event):
    """The client gave up signing in again (the registrar refused in a way retrying cannot fix). The endpoint
    is signed out; the exception for a failed ``sign_in()`` is :class:`sfbkit.SignInFailed` instead."""

    __match_args__ = ("error_class", "error", "hint")

    error_class: str
    """The failure's short class."""
    error: str
    """The failure in words."""
    hint: str
    """What to do about it."""


@dataclass(frozen=True)
class ProvisioningUpdated(Event):
    """In-band provisioning arrived or changed (``client.provisioning()`` has it)."""

    __match_args__ = ("location_profile",)

    location_profile: Optional[str]
    """The location profile it names."""


@dataclass(frozen=True)
class LocationProfileLoaded(Event):
    """The dial plan is loaded and ``client.normalize()`` uses it."""

    __match_args__ = ("name", "rules")

    name: str
    """The profile's name."""
    rules: int
    """How many rules it has."""


@dataclass(frozen=True)
class LocationProfileRefused(Event):
    """The server's location profile could not be used."""

    __match_args__ = ("error",)

    error: str
    """Why."""


@dataclass(frozen=True)
class ContactAdded(Event):
    """A contact was added to the list."""

    __match_args__ = ("contact",)

    contact: Contact
    """The contact."""


@dataclass(frozen=True)
class ContactRemoved(Event):
    """A contact was removed from the list."""

    __match_args__ = ("uri",)

    uri: str
    """The contact's URI."""


@dataclass(frozen=True)
class ContactModified(Event):
    """A contact's name, groups (a move) or subscription changed."""

    __match_args__ = ("before", "after")

    before: Contact
    """The contact before the change."""
    after: Contact
    """The contact after the change."""


@dataclass(frozen=True)
class GroupAdded(Event):
    """A group was added."""

    __match_args__ = ("group",)

    group: Group
    """The group."""


@dataclass(frozen=True)
class GroupRemoved(Event):
    """A group was removed."""

    __match_args__ = ("id", "name")

    id: int
    """The group's id."""
    name: str
    """The group's name."""


@dataclass(frozen=True)
class GroupModified(Event):
    """A group was renamed."""

    __match_args__ = ("before", "after")

    before: Group
    """The group before."""
    after: Group
    """The group after."""


@dataclass(frozen=True)
class ContactsInExchange(Event):
    """The user's contacts are kept in Exchange (Unified Contact Store); change them through Exchange."""

    __match_args__ = ()


@dataclass(frozen=True)
class PresenceChanged(Event):
    """A contact's presence changed. Matches positionally on ``(uri, availability, activity)``."""

    __match_args__ = ("uri", "availability", "activity")

    presence: ContactPresence
    """Everything known about the contact's presence now."""

    @property
    def uri(self) -> str:
        """The contact."""
        return self.presence.uri

    @property
    def availability(self) -> Optional[Availability]:
        """The contact's status, when known."""
        return self.presence.availability

    @property
    def activity(self) -> Optional[str]:
        """The contact's activity token, when set."""
        return self.presence.activity


@dataclass(frozen=True)
class NoteChanged(Event):
    """A contact's note changed (``note`` is ``None`` when cleared)."""

    __match_args__ = ("uri", "note")

    uri: str
    """The contact."""
    note: Optional[str]
    """The note's text."""


@dataclass(frozen=True)
class PresencePublished(Event):
    """This endpoint's own presence was published (after a command, or again after a reconnect)."""

    __match_args__ = ("categories",)

    categories: Tuple[str, ...]
    """The categories published (``state``, ``note``...)."""


@dataclass(frozen=True)
class Lagged(Event):
    """Events were read too slowly and this many were dropped (the stream stays in order)."""

    __match_args__ = ("missed",)

    missed: int
    """How many were dropped."""


@dataclass(frozen=True)
class SignedOut(Event):
    """Signed out: unpublished, unsubscribed, unregistered, connection closed."""

    __match_args__ = ()


@dataclass(frozen=True)
class UnknownEvent(Event):
    """An event this version of the Python package does not know (a newer native module)."""

    __match_args__ = ("type",)

    type: str
    """The event's ``type`` in the core's JSON."""


def _reason(d: Mapping[str, Any]) -> DeregistrationReason:
    return DeregistrationReason(kind=str(d.get("kind", "other")), registrar=d.get("registrar"), event=d.get("event"))


_BUILDERS: Dict[str, Callable[[Mapping[str, Any]], Event]] = {
    "registered": lambda d: Registered(str(d["registrar"]), int(d["expires_s"])),
    "registration_refreshed": lambda d: RegistrationRefreshed(int(d["expires_s"])),
    "deregistered": lambda d: Deregistered(
        _reason(d["reason"]), bool(d["reconnecting"]), d.get("diagnostics_code"), d.get("diagnostics_reason")
    ),
    "connection_lost": lambda d: ConnectionLost(str(d["error"])),
    "reconnecting": lambda d: Reconnecting(int(d["attempt"]), int(d["delay_ms"]), d.get("last_error")),
    "connection_restored": lambda d: ConnectionRestored(int(d["attempts"]), int(d["downtime_ms"])),
    "certificate_renewed": lambda d: CertificateRenewed(str(d["pool"]), int(d["expires_unix"])),
    "certificate_renewal_failed": lambda d: CertificateRenewalFailed(str(d["class"]), str(d["error"])),
    "sign_in_failed": lambda d: SignInAbandoned(str(d["class"]), str(d["error"]), str(d["hint"])),
    "provisioning_updated": lambda d: ProvisioningUpdated(d.get("location_profile")),
    "location_profile_loaded": lambda d: LocationProfileLoaded(str(d["name"]), int(d["rules"])),
    "location_profile_refused": lambda d: LocationProfileRefused(str(d["error"])),
    "contact_added": lambda d: ContactAdded(Contact._from_dict(d["contact"])),
    "contact_removed": lambda d: ContactRemoved(str(d["uri"])),
    "contact_modified": lambda d: ContactModified(Contact._from_dict(d["before"]), Contact._from_dict(d["after"])),
    "group_added": lambda d: GroupAdded(Group._from_dict(d["group"])),
    "group_removed": lambda d: GroupRemoved(int(d["id"]), str(d["name"])),
    "group_modified": lambda d: GroupModified(Group._from_dict(d["before"]), Group._from_dict(d["after"])),
    "contacts_in_exchange": lambda d: ContactsInExchange(),
    "presence_changed": lambda d: PresenceChanged(ContactPresence._from_dict(d["presence"])),
    "note_changed": lambda d: NoteChanged(str(d["uri"]), d.get("note")),
    "presence_published": lambda d: PresencePublished(tuple(str(c) for c in d.get("categories", []))),
    "lagged": lambda d: Lagged(int(d["missed"])),
    "signed_out": lambda d: SignedOut(),
}

EVENT_CLASSES: Tuple[Type[Event], ...] = (
    Registered,
    RegistrationRefreshed,
    Deregistered,
    ConnectionLost,
    Reconnecting,
    ConnectionRestored,
    CertificateRenewed,
    CertificateRenewalFailed,
    SignInAbandoned,
    ProvisioningUpdated,
    LocationProfileLoaded,
    LocationProfileRefused,
    ContactAdded,
    ContactRemoved,
    ContactModified,
    GroupAdded,
    GroupRemoved,
    GroupModified,
    ContactsInExchange,
    PresenceChanged,
    NoteChanged,
    PresencePublished,
    Lagged,
    SignedOut,
    UnknownEvent,
)
"""Every event class, for ``client.on(...)`` checks and documentation."""


def _from_json(text: str) -> Event:
    d = json.loads(text)
    kind = str(d.get("type", ""))
    build = _BUILDERS.get(kind)
    event = build(d) if build is not None else UnknownEvent(kind)
    object.__setattr__(event, "_raw", d)
    return event
