"""sfbkit: sign in to Skype for Business Server or Lync the way the Microsoft client does, from Python.

A thin, typed layer over the Rust core (``sfbkit._native``)::

    import asyncio, sfbkit

    async def main() -> None:
        client = sfbkit.Client("alice@contoso.com", account="CONTOSO\\\\alice", password="...")
        async with client:
            await client.set_presence(sfbkit.Availability.BUSY)
            async for event in client.events():
                print(event)

    asyncio.run(main())

``sfbkit.lab.LabPool`` starts the embedded lab pool; ``sfbkit.blocking.Client`` is the client without asyncio;
``sfbkit.Fleet`` runs many endpoints, paced and counted; ``sfbkit.locust`` drives them from Locust.
The SDK logs to ``logging.getLogger("sfbkit")``; no log record carries a secret.
"""

from __future__ import annotations

import logging as _logging

from . import _native, blocking, lab
from .client import Client, EventSubscription, LockoutPolicy, ReconnectPolicy
from .fleet import Fleet, FleetStats
from .errors import (
    CommandFailed,
    ConfigurationError,
    Error,
    InternalError,
    LabError,
    NotSignedIn,
    SignInFailed,
    SignOutFailed,
    WrongEventLoop,
)
from .events import (
    CertificateRenewalFailed,
    CertificateRenewed,
    ConnectionLost,
    ConnectionRestored,
    ContactAdded,
    ContactModified,
    ContactRemoved,
    ContactsInExchange,
    Deregistered,
    DeregistrationReason,
    Event,
    GroupAdded,
    GroupModified,
    GroupRemoved,
    Lagged,
    LocationProfileLoaded,
    LocationProfileRefused,
    NoteChanged,
    PresenceChanged,
    PresencePublished,
    ProvisioningUpdated,
    Reconnecting,
    Registered,
    RegistrationRefreshed,
    SignedOut,
    SignInAbandoned,
    UnknownEvent,
)
from .keystore import KeyringStore, MemoryStore, SecretStore
from .types import (
    Availability,
    Contact,
    ContactList,
    ContactPresence,
    Group,
    LocationProfile,
    Normalized,
    Note,
    Phone,
    ProvisionGroup,
    Provisioning,
    Registration,
    Rule,
    RuleRef,
    SignInReport,
    SignInResult,
    Step,
)

# A library adds no handler of its own: records go where the application's logging configuration sends
# them, and nowhere (not Python's last-resort stderr handler) when it has none.
_logging.getLogger("sfbkit").addHandler(_logging.NullHandler())

__version__: str = _native.VERSION
"""The version of sfbkit."""


def refresh_log_level() -> None:
    """Reads the ``sfbkit`` logger's level again, after logging's configuration changed (sfbkit reads it when
    a client is built and when it signs in, and forwards only records at or above it)."""
    _native.refresh_log_level()


__all__ = [
    "Availability",
    "CertificateRenewalFailed",
    "CertificateRenewed",
    "Client",
    "CommandFailed",
    "ConfigurationError",
    "ConnectionLost",
    "ConnectionRestored",
    "Contact",
    "ContactAdded",
    "ContactList",
    "ContactModified",
    "ContactPresence",
    "ContactRemoved",
    "ContactsInExchange",
    "Deregistered",
    "DeregistrationReason",
    "Error",
    "Event",
    "EventSubscription",
    "Fleet",
    "FleetStats",
    "Group",
    "GroupAdded",
    "GroupModified",
    "GroupRemoved",
    "InternalError",
    "KeyringStore",
    "LabError",
    "Lagged",
    "LocationProfile",
    "LocationProfileLoaded",
    "LocationProfileRefused",
    "LockoutPolicy",
    "MemoryStore",
    "Normalized",
    "Note",
    "NoteChanged",
    "NotSignedIn",
    "Phone",
    "PresenceChanged",
    "PresencePublished",
    "ProvisionGroup",
    "Provisioning",
    "ProvisioningUpdated",
    "ReconnectPolicy",
    "Reconnecting",
    "Registered",
    "Registration",
    "RegistrationRefreshed",
    "Rule",
    "RuleRef",
    "SecretStore",
    "SignInAbandoned",
    "SignInFailed",
    "SignInReport",
    "SignInResult",
    "SignOutFailed",
    "SignedOut",
    "Step",
    "UnknownEvent",
    "WrongEventLoop",
    "blocking",
    "lab",
    "refresh_log_level",
]
