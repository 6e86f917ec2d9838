"""``sfbkit.blocking.Client``: the same client for scripts that do not use asyncio.

Each blocking client runs its own private event loop; every method waits for the answer. A blocking client
belongs to the thread that built it.
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any, Awaitable, Iterator, Optional, TypeVar, Union

from . import client as _async
from .events import Event, SignedOut, SignInAbandoned
from .types import (
    Availability,
    ContactList,
    ContactPresence,
    LocationProfile,
    Normalized,
    Provisioning,
    SignInReport,
)

__all__ = ["Client"]

T = TypeVar("T")


class Client:
    """A blocking :class:`sfbkit.Client`: ``Client(sip_uri, **options)`` takes the same options, and
    ``with client:`` signs in and always signs out."""

    def __init__(self, sip_uri: str, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._client = _async.Client(sip_uri, **options)

    @classmethod
    def _wrap(cls, client: _async.Client) -> Client:
        blocking = cls.__new__(cls)
        blocking._loop = asyncio.new_event_loop()
        blocking._client = client
        return blocking

    @property
    def aio(self) -> _async.Client:
        """The asyncio client underneath (for its views and properties)."""
        return self._client

    def _run(self, work: Awaitable[T]) -> T:
        async def run() -> T:
            return await work

        return self._loop.run_until_complete(run())

    def __repr__(self) -> str:
        return repr(self._client).replace("sfbkit.Client", "sfbkit.blocking.Client", 1)

    @property
    def is_signed_in(self) -> bool:
        """Whether the endpoint is signed in right now."""
        return self._client.is_signed_in

    @property
    def last_report(self) -> Optional[SignInReport]:
        """The report of the last sign-in."""
        return self._client.last_report

    def sign_in(self) -> SignInReport:
        """Signs in; raises :class:`sfbkit.SignInFailed` when it fails."""
        return self._run(self._client.sign_in())

    def sign_out(self) -> None:
        """Signs out (nothing when not signed in)."""
        self._run(self._client.sign_out())

    def close(self) -> None:
        """Signs out when signed in and closes the private event loop."""
        if self._loop.is_closed():
            return
        try:
            self.sign_out()
        finally:
            self._loop.close()

    def __enter__(self) -> Client:
        self.sign_in()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def next_event(self, timeout: Union[None, float, datetime.timedelta] = None) -> Event:
        """The next event (waits; ``TimeoutError`` after ``timeout`` seconds)."""
        try:
            return self._run(self._client.next_event(timeout))
        except asyncio.TimeoutError:
            raise TimeoutError(f"no event within {timeout} s") from None

    def events(self, timeout: Union[None, float, datetime.timedelta] = None) -> Iterator[Event]:
        """The events in order, ending after :class:`sfbkit.SignedOut` or :class:`sfbkit.SignInAbandoned`, or
        when none arrives within ``timeout`` seconds."""
        while True:
            try:
                event = self.next_event(timeout)
            except TimeoutError:
                return
            yield event
            if isinstance(event, (SignedOut, SignInAbandoned)):
                return

    def keep_alive(self) -> datetime.timedelta:
        """Pings the registrar; the time until it answered."""
        return self._run(self._client.keep_alive())

    def set_presence(self, availability: Union[Availability, str], activity: Optional[str] = None) -> None:
        """Publishes a manual status."""
        self._run(self._client.set_presence(availability, activity))

    def clear_presence(self) -> None:
        """Withdraws the manual status."""
        self._run(self._client.clear_presence())

    def set_note(self, text: Optional[str]) -> None:
        """Publishes the personal note (``None`` removes it)."""
        self._run(self._client.set_note(text))

    def add_contact(self, uri: str, name: str = "", group: Optional[str] = None) -> None:
        """Adds a contact to the named group (default: the default group)."""
        self._run(self._client.add_contact(uri, name, group))

    def watch_presence(self, uri: str) -> None:
        """Watches someone's presence without adding them to the contact list."""
        self._run(self._client.watch_presence(uri))

    def unwatch_presence(self, uri: str) -> None:
        """Stops watching someone watch_presence added."""
        self._run(self._client.unwatch_presence(uri))

    def remove_contact(self, uri: str) -> None:
        """Removes a contact."""
        self._run(self._client.remove_contact(uri))

    def move_contact(self, uri: str, group: str) -> None:
        """Moves a contact to the named group."""
        self._run(self._client.move_contact(uri, group))

    def add_group(self, name: str) -> int:
        """Creates a group; returns its id."""
        return self._run(self._client.add_group(name))

    def rename_group(self, group: Union[int, str], name: str) -> None:
        """Renames a group, given by name or id."""
        self._run(self._client.rename_group(group, name))

    def remove_group(self, group: Union[int, str]) -> None:
        """Removes a group, given by name or id."""
        self._run(self._client.remove_group(group))

    def contacts(self) -> ContactList:
        """The contact list as last received."""
        return self._client.contacts()

    def presence_of(self, uri: str) -> Optional[ContactPresence]:
        """A contact's presence as last notified."""
        return self._client.presence_of(uri)

    def provisioning(self) -> Optional[Provisioning]:
        """In-band provisioning, once received."""
        return self._client.provisioning()

    def location_profile(self) -> Optional[LocationProfile]:
        """The dial plan, once received."""
        return self._client.location_profile()

    def normalize(self, number: str) -> Normalized:
        """Normalizes a dialed number with the user's dial plan."""
        return self._client.normalize(number)
