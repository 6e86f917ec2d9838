"""The values sfbkit hands out: the sign-in report, contacts, presence, provisioning, the dial plan.

Every class here is immutable and is built from the JSON the Rust core writes (the same JSON as
``sfbkit signin --json``), so the fields mean what the Rust documentation says they mean.
"""

from __future__ import annotations

import datetime
import enum
import json
import types
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

__all__ = [
    "Availability",
    "Contact",
    "ContactList",
    "ContactPresence",
    "Group",
    "LocationProfile",
    "Normalized",
    "Note",
    "Phone",
    "ProvisionGroup",
    "Provisioning",
    "Registration",
    "Rule",
    "RuleRef",
    "SignInReport",
    "SignInResult",
    "Step",
]


def _frozen_mapping(value: Optional[Mapping[str, Any]]) -> Mapping[str, Any]:
    return types.MappingProxyType(dict(value or {}))


class Availability(enum.Enum):
    """A presence status, as the Lync 2013 availability ranges name them.

    The value is the core's name for it (``"Busy"``), so ``Availability("Busy") is Availability.BUSY``.
    """

    AVAILABLE = "Available"
    AVAILABLE_IDLE = "AvailableIdle"
    BUSY = "Busy"
    BUSY_IDLE = "BusyIdle"
    DO_NOT_DISTURB = "DoNotDisturb"
    BE_RIGHT_BACK = "BeRightBack"
    AWAY = "Away"
    OFFLINE = "Offline"


class SignInResult(enum.Enum):
    """The overall result of a sign-in, as Test-CsRegistration prints it."""

    SUCCESS = "Success"
    FAILURE = "Failure"


@dataclass(frozen=True)
class Step:
    """One step of one sign-in stage: what was tried, against which host, how it ended and how long it took."""

    __match_args__ = ("stage", "step", "host", "outcome")

    stage: str
    """The stage: ``Local Discovery``, ``Server Discovery``, ``Connectivity Checks``, ``Authentication``,
    ``Redirection``, ``Settings and Policies`` or ``Sign Out``."""
    step: str
    """What was tried (``DNS SRV``, ``TLS handshake``, ``REGISTER``...)."""
    host: str
    """The host or URL it was tried against."""
    duration_ms: float
    """How long the step took."""
    outcome: str
    """``Success``, ``Failure``, ``NotFound`` (an expected miss) or ``Skipped``."""
    detail: str
    """What came back, in words."""
    error_class: Optional[str] = None
    """For a failure: its short class (``untrusted-root``, ``refused``...)."""
    hint: Optional[str] = None
    """For a failure: what a person can do about it."""

    @classmethod
    def _from_dict(cls, d: Mapping[str, Any]) -> Step:
        return cls(
            stage=str(d["name"]),
            step=str(d["step"]),
            host=str(d["host"]),
            duration_ms=float(d["duration_ms"]),
            outcome=str(d["outcome"]),
            detail=str(d["detail"]),
            error_class=d.get("error_class"),
            hint=d.get("hint"),
        )


@dataclass(frozen=True)
class Registration:
    """What the registrar granted: the registration's lifetime, the GRUU and the registrar's details."""

    expires_s: int
    """Seconds until the registration expires (it is refreshed before)."""
    gruu: Optional[str]
    """The endpoint's globally routable URI, when the registrar gave one."""
    keep_alive_timeout_s: Optional[int]
    """``ms-keep-alive`` ``timeout=``: the longest the connection may stay silent."""
    allow_events: Tuple[str, ...]
    """The self subscriptions the pool offers (``Allow-Events``)."""
    server: Optional[str]
    """The registrar's ``Server`` header (``RTC/6.0`` for Skype for Business Server 2015)."""

    @classmethod
    def _from_dict(cls, d: Mapping[str, Any]) -> Registration:
        return cls(
            expires_s=int(d["expires"]),
            gruu=d.get("gruu"),
            keep_alive_timeout_s=d.get("keep_alive_timeout"),
            allow_events=tuple(str(e) for e in d.get("allow_events", [])),
            server=d.get("server"),
        )


@dataclass(frozen=True)
class SignInReport:
    """What happened during one sign-in, stage by stage, with a Test-CsRegistration-style summary on top."""

    result: SignInResult
    """``SignInResult.SUCCESS`` or ``SignInResult.FAILURE``."""
    target: str
    """The registrar signed in to (or the domain, when no registrar was reached)."""
    user: str
    """The SIP URI that signed in."""
    latency: datetime.timedelta
    """Wall time of the whole sign-in."""
    error: Optional[str]
    """For a failure: the status and phrase (``404, Not Found``) or the failure in words."""
    diagnosis: Optional[str]
    """For a failure: the server's parsed ``ms-diagnostics``."""
    hint: Optional[str]
    """For a failure: what to do about it."""
    stages: Tuple[Step, ...]
    """Every step, in order."""
    warnings: Tuple[str, ...]
    """Steps that failed without stopping the sign-in; each needs a look."""
    registration: Optional[Registration]
    """What the registrar granted, on success."""
    _json: str = field(repr=False, compare=False)

    @property
    def latency_ms(self) -> float:
        """The latency in milliseconds, as in the CLI's JSON (``latency_ms``)."""
        return self.latency / datetime.timedelta(milliseconds=1)

    @property
    def succeeded(self) -> bool:
        """True when the user signed in."""
        return self.result is SignInResult.SUCCESS

    @property
    def error_class(self) -> Optional[str]:
        """The short class of the failure that ended the sign-in: the class of the last failed step."""
        for step in reversed(self.stages):
            if step.outcome == "Failure" and step.error_class:
                return step.error_class
        return None

    @property
    def failed_stage(self) -> Optional[str]:
        """The stage of the last failed step, for a failure."""
        for step in reversed(self.stages):
            if step.outcome == "Failure":
                return step.stage
        return None

    def to_dict(self) -> Dict[str, Any]:
        """The report as the CLI writes it with ``--json`` (a new dict each time)."""
        value: Dict[str, Any] = json.loads(self._json)
        return value

    @classmethod
    def _from_json(cls, text: str) -> SignInReport:
        d = json.loads(text)
        registration = d.get("registration")
        return cls(
            result=SignInResult(d["result"]),
            target=str(d["target"]),
            user=str(d["user"]),
            latency=datetime.timedelta(milliseconds=float(d["latency_ms"])),
            error=d.get("error"),
            diagnosis=d.get("diagnosis"),
            hint=d.get("hint"),
            stages=tuple(Step._from_dict(s) for s in d.get("stages", [])),
            warnings=tuple(str(w) for w in d.get("warnings", [])),
            registration=Registration._from_dict(registration) if registration else None,
            _json=text,
        )


@dataclass(frozen=True)
class Group:
    """One group of the contact list."""

    __match_args__ = ("id", "name")

    id: int
    """The server's number for the group (only comparable within one list)."""
    name: str
    """The name as sent; ``~`` for the default group."""
    external_uri: Optional[str] = None
    """The group's external URI, when it has one."""

    @property
    def is_default(self) -> bool:
        """The default group ("Other Contacts"), whose name starts with ``~``."""
        return self.name.startswith("~")

    @property
    def display_name(self) -> str:
        """The name to show: "Other Contacts" for the default group."""
        return "Other Contacts" if self.is_default else self.name

    @classmethod
    def _from_dict(cls, d: Mapping[str, Any]) -> Group:
        return cls(id=int(d["id"]), name=str(d["name"]), external_uri=d.get("external_uri"))


@dataclass(frozen=True)
class Contact:
    """One contact of the list."""

    __match_args__ = ("uri", "name", "groups")

    uri: str
    """Always with its scheme: ``sip:bob@contoso.com``."""
    name: str
    """The alias the user gave the contact; empty for none."""
    groups: Tuple[int, ...]
    """The ids of the groups the contact is in."""
    subscribed: bool = True
    """Whether the client subscribes to the contact's presence."""
    external_uri: Optional[str] = None
    """The contact's external URI, when it has one."""
    extension: Optional[str] = None
    """Application data (``contactExtension`` inner XML), when present."""

    @classmethod
    def _from_dict(cls, d: Mapping[str, Any]) -> Contact:
        return cls(
            uri=str(d["uri"]),
            name=str(d["name"]),
            groups=tuple(int(g) for g in d.get("groups", [])),
            subscribed=bool(d.get("subscribed", True)),
            external_uri=d.get("external_uri"),
            extension=d.get("extension"),
        )


@dataclass(frozen=True)
class ContactList:
    """The user's contact list as the server last described it."""

    groups: Tuple[Group, ...]
    """Every group."""
    contacts: Tuple[Contact, ...]
    """Every contact."""
    delta_num: int = 0
    """The server's version of the list; 0 until a list arrived."""

    def group(self, name: str) -> Optional[Group]:
        """The group with this name (case-insensitive; "Other Contacts" finds the default group)."""
        for g in self.groups:
            if g.name.lower() == name.lower() or g.display_name.lower() == name.lower():
                return g
        return None

    def contact(self, uri: str) -> Optional[Contact]:
        """The contact with this URI (``sip:`` optional, case-insensitive)."""
        want = uri if uri.lower().startswith("sip:") else "sip:" + uri
        for c in self.contacts:
            if c.uri.lower() == want.lower():
                return c
        return None

    def in_group(self, name: str) -> Tuple[Contact, ...]:
        """The contacts in the named group."""
        g = self.group(name)
        return tuple(c for c in self.contacts if g is not None and g.id in c.groups)

    @classmethod
    def _from_dict(cls, d: Mapping[str, Any]) -> ContactList:
        return cls(
            groups=tuple(Group._from_dict(g) for g in d.get("groups", [])),
            contacts=tuple(Contact._from_dict(c) for c in d.get("contacts", [])),
            delta_num=int(d.get("delta_num", 0)),
        )


@dataclass(frozen=True)
class Note:
    """A contact's note."""

    __match_args__ = ("text", "kind")

    text: str
    """The note's text."""
    kind: str
    """``Personal`` (typed by the user) or ``Oof`` (the out-of-office message)."""


@dataclass(frozen=True)
class Phone:
    """One phone number of a contact card."""

    kind: Optional[str]
    """``work``, ``mobile``, ``home``, ``other``..."""
    uri: Optional[str]
    """The ``tel:`` URI."""
    display: Optional[str]
    """The number as shown."""


@dataclass(frozen=True)
class ContactPresence:
    """What an application shows for one contact."""

    __match_args__ = ("uri", "availability", "activity")

    uri: str
    """The contact (``sip:bob@contoso.com``)."""
    availability: Optional[Availability]
    """The status, when known."""
    activity: Optional[str] = None
    """The activity token (``in-a-meeting``, ``on-the-phone``...)."""
    availability_value: Optional[int] = None
    """The availability number behind the status."""
    custom_activity: Optional[str] = None
    """Free text the contact set as activity."""
    device: Optional[str] = None
    """E.g. ``Mobile``."""
    note: Optional[Note] = None
    """The contact's note."""
    display_name: Optional[str] = None
    """From the contact card."""
    email: Optional[str] = None
    """From the contact card."""
    title: Optional[str] = None
    """From the contact card."""
    company: Optional[str] = None
    """From the contact card."""
    phones: Tuple[Phone, ...] = ()
    """From the contact card."""
    federated: bool = False
    """A contact outside the user's own SIP domain."""

    @classmethod
    def _from_dict(cls, d: Mapping[str, Any]) -> ContactPresence:
        availability = d.get("availability")
        note = d.get("note")
        return cls(
            uri=str(d["uri"]),
            availability=Availability(availability) if availability is not None else None,
            activity=d.get("activity"),
            availability_value=d.get("availability_value"),
            custom_activity=d.get("custom_activity"),
            device=d.get("device"),
            note=Note(text=str(note["text"]), kind=str(note["kind"])) if note else None,
            display_name=d.get("display_name"),
            email=d.get("email"),
            title=d.get("title"),
            company=d.get("company"),
            phones=tuple(Phone(p.get("kind"), p.get("uri"), p.get("display")) for p in d.get("phones", [])),
            federated=bool(d.get("federated", False)),
        )


@dataclass(frozen=True)
class ProvisionGroup:
    """One ``provisionGroup`` exactly as received."""

    name: str
    """``ServerConfiguration``, ``endpointConfiguration``..."""
    properties: Mapping[str, str]
    """Every setting of the group, names as on the wire."""
    xml: str = field(repr=False)
    """The whole element as it appears in the body."""

    def property(self, name: str) -> Optional[str]:
        """A setting's value, its name matched case-insensitively."""
        for key, value in self.properties.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass(frozen=True)
class Provisioning:
    """In-band provisioning: the server's configuration and the user's policies."""

    server: Optional[Mapping[str, Any]]
    """``ServerConfiguration`` as the core types it (``location_profile``, ``pool_uri``, ``media_ports``...)."""
    meeting_policy: Optional[Mapping[str, Any]]
    """The meeting policy, when provisioned."""
    uc_policy: Optional[Mapping[str, Any]]
    """The UC policy, when provisioned."""
    persistent_chat: Optional[Mapping[str, Any]]
    """The persistent chat configuration, when provisioned."""
    groups: Tuple[ProvisionGroup, ...]
    """Every group, raw, in document order."""

    @property
    def location_profile_name(self) -> Optional[str]:
        """The name of the user's location profile (dial plan)."""
        if self.server is None:
            return None
        name = self.server.get("location_profile")
        return str(name) if name is not None else None

    def group(self, name: str) -> Optional[ProvisionGroup]:
        """The first group with this name (case-insensitive)."""
        for g in self.groups:
            if g.name.lower() == name.lower():
                return g
        return None

    @classmethod
    def _from_dict(cls, d: Mapping[str, Any]) -> Provisioning:
        def optional(key: str) -> Optional[Mapping[str, Any]]:
            value = d.get(key)
            return _frozen_mapping(value) if value is not None else None

        return cls(
            server=optional("server"),
            meeting_policy=optional("meeting_policy"),
            uc_policy=optional("uc_policy"),
            persistent_chat=optional("persistent_chat"),
            groups=tuple(
                ProvisionGroup(name=str(g["name"]), properties=_frozen_mapping(g.get("properties")), xml=str(g["xml"]))
                for g in d.get("groups", [])
            ),
        )


@dataclass(frozen=True)
class Rule:
    """One normalization rule of a dial plan, as the server sent it."""

    pattern: str
    """The .NET pattern."""
    translation: str
    """The .NET replacement template."""
    internal_enterprise_extension: bool = False
    """The result is an internal extension rather than an external number."""
    applicable_for_device_dialing: Optional[bool] = None
    """``ApplicableForDeviceDialing``, when present."""


@dataclass(frozen=True)
class LocationProfile:
    """The user's location profile (dial plan)."""

    name: str
    """The profile's name."""
    rules: Tuple[Rule, ...]
    """The rules, in the order they are tried."""
    external_access_prefix: Optional[str] = None
    """The prefix for an outside line, when set."""
    optimize_device_dialing: Optional[bool] = None
    """``OptimizeDeviceDialing``, when present."""

    @classmethod
    def _from_dict(cls, d: Mapping[str, Any]) -> LocationProfile:
        return cls(
            name=str(d["name"]),
            rules=tuple(
                Rule(
                    pattern=str(r["pattern"]),
                    translation=str(r["translation"]),
                    internal_enterprise_extension=bool(r.get("internal_enterprise_extension", False)),
                    applicable_for_device_dialing=r.get("applicable_for_device_dialing"),
                )
                for r in d.get("rules", [])
            ),
            external_access_prefix=d.get("external_access_prefix"),
            optimize_device_dialing=d.get("optimize_device_dialing"),
        )


@dataclass(frozen=True)
class RuleRef:
    """Which rule matched: its 1-based position in the profile and its pattern."""

    index: int
    """1-based position of the rule in the profile."""
    pattern: str
    """The rule's pattern."""


@dataclass(frozen=True)
class Normalized:
    """A dialed number after the user's dial plan."""

    __match_args__ = ("output", "rule")

    input: str
    """What was dialed, as given."""
    output: Optional[str]
    """The translation, or ``None`` when no rule matched (dial the input as entered)."""
    rule: Optional[RuleRef]
    """The rule that matched."""
    stripped: str = ""
    """The input without formatting: what the rules were tried on."""
    extension: bool = False
    """The matching rule's ``InternalEnterpriseExtension``."""
    error: Optional[str] = None
    """Set when a rule could not be evaluated; rules after it were not tried."""

    @classmethod
    def _from_dict(cls, d: Mapping[str, Any]) -> Normalized:
        rule = d.get("rule")
        return cls(
            input=str(d["input"]),
            output=d.get("output"),
            rule=RuleRef(index=int(rule["index"]), pattern=str(rule["pattern"])) if rule else None,
            stripped=str(d.get("stripped", "")),
            extension=bool(d.get("extension", False)),
            error=d.get("error"),
        )
