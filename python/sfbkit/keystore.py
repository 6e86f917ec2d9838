"""Where TLS-DSK certificates are kept, when the application chooses.

``Client(keystore=...)`` takes ``"os"`` (the OS keystore: on Linux the Secret Service or kernel keyutils),
``"memory"``, or any object with the three methods of :class:`SecretStore`. :class:`KeyringStore` is one over
the ``keyring`` package, whose backends reach the stores the Rust core cannot build for here (macOS
Keychain, Windows Credential Manager).

The methods are called from sfbkit's own threads, with the GIL taken for the call: keep them quick and
thread-safe. An exception is reported as the keystore refusing (the sign-in provisions a certificate
afresh or, for ``set``, goes on without storing it).
"""

from __future__ import annotations

import base64
import threading
from typing import Any, Dict, Optional, Protocol, Tuple, Type, Union, runtime_checkable

__all__ = ["KeyringStore", "MemoryStore", "SecretStore"]


@runtime_checkable
class SecretStore(Protocol):
    """The keystore protocol: secrets by ``(service, account)``."""

    def get(self, service: str, account: str) -> Union[bytes, str, None]:
        """The secret, or ``None`` when there is no entry."""
        ...

    def set(self, service: str, account: str, secret: bytes) -> None:
        """Creates or replaces the entry."""
        ...

    def delete(self, service: str, account: str) -> Optional[bool]:
        """Removes the entry (``False`` when there was none; ``None`` counts as removed)."""
        ...


class MemoryStore:
    """Secrets in a dict of this process (for tests, and apps that persist nothing).

    ``calls`` counts the calls per method, so a test can see a second sign-in find the certificate."""

    def __init__(self) -> None:
        self._entries: Dict[Tuple[str, str], bytes] = {}
        self._lock = threading.Lock()
        self.calls: Dict[str, int] = {"get": 0, "set": 0, "delete": 0}
        """How often each method was called."""

    def get(self, service: str, account: str) -> Optional[bytes]:
        """The secret, or ``None``."""
        with self._lock:
            self.calls["get"] += 1
            return self._entries.get((service, account))

    def set(self, service: str, account: str, secret: bytes) -> None:
        """Creates or replaces the entry."""
        with self._lock:
            self.calls["set"] += 1
            self._entries[(service, account)] = bytes(secret)

    def delete(self, service: str, account: str) -> bool:
        """Removes the entry; ``False`` when there was none."""
        with self._lock:
            self.calls["delete"] += 1
            return self._entries.pop((service, account), None) is not None

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class KeyringStore:
    """A keystore over the ``keyring`` package (``pip install keyring``): the platform's store through
    keyring's backends, or the ``backend`` given. Secrets are stored as base64 text, since keyring stores
    strings."""

    def __init__(self, backend: Optional[Any] = None) -> None:
        if backend is None:
            import keyring

            backend = keyring.get_keyring()
        self._backend = backend

    def get(self, service: str, account: str) -> Optional[bytes]:
        """The secret, or ``None``."""
        text = self._backend.get_password(service, account)
        return base64.b64decode(text) if text is not None else None

    def set(self, service: str, account: str, secret: bytes) -> None:
        """Creates or replaces the entry."""
        self._backend.set_password(service, account, base64.b64encode(secret).decode("ascii"))

    def delete(self, service: str, account: str) -> bool:
        """Removes the entry; ``False`` when there was none."""
        try:
            import keyring.errors

            missing: Tuple[Type[BaseException], ...] = (keyring.errors.PasswordDeleteError,)
        except ImportError:
            missing = ()
        try:
            self._backend.delete_password(service, account)
        except missing:
            return False
        return True
