"""The public surface: the names outside checks use exist, and every public name has a docstring."""

from __future__ import annotations

import inspect
from typing import Any, List

import sfbkit
import sfbkit.blocking
import sfbkit.lab
import sfbkit.pytest_plugin

MODULES = [sfbkit, sfbkit.blocking, sfbkit.lab, sfbkit.pytest_plugin, sfbkit.errors, sfbkit.events, sfbkit.types]


def public_names() -> List[Any]:
    found = []
    for module in MODULES:
        for name in getattr(module, "__all__", []):
            found.append((f"{module.__name__}.{name}", getattr(module, name)))
    return found


def test_every_public_name_and_member_has_a_docstring() -> None:
    missing = []
    for module in MODULES:
        if not (module.__doc__ or "").strip():
            missing.append(module.__name__)
    for qualified, obj in public_names():
        if inspect.ismodule(obj):
            continue
        if not (inspect.getdoc(obj) or "").strip():
            missing.append(qualified)
        if inspect.isclass(obj):
            for member, value in vars(obj).items():
                if member.startswith("_"):
                    continue
                if isinstance(value, (property, staticmethod, classmethod)) or inspect.isfunction(value):
                    target = value.fget if isinstance(value, property) else value
                    if not (getattr(target, "__doc__", None) or "").strip():
                        missing.append(f"{qualified}.{member}")
    assert missing == [], missing


def test_the_names_outside_checks_use_exist() -> None:
    for name in [
        "Client",
        "SignInReport",
        "SignInFailed",
        "Error",
        "Availability",
        "Event",
        "PresenceChanged",
        "NoteChanged",
    ]:
        assert hasattr(sfbkit, name), name
    assert issubclass(sfbkit.SignInFailed, sfbkit.Error)
    assert sfbkit.Availability.BUSY.value == "Busy"
    signature = inspect.signature(sfbkit.Client)
    for option in ["account", "password", "server", "dns", "ca_files", "keystore"]:
        assert signature.parameters[option].kind is inspect.Parameter.KEYWORD_ONLY, option
    assert signature.parameters["keystore"].default == "os"
    assert signature.parameters["ca_files"].default == ()
    for method in ["sign_in", "sign_out", "set_presence", "set_note", "add_contact", "remove_contact",
                   "move_contact", "add_group", "rename_group", "remove_group", "run_forever"]:
        assert inspect.iscoroutinefunction(getattr(sfbkit.Client, method)), method
    for view in ["contacts", "presence_of", "provisioning", "location_profile", "normalize", "events", "on"]:
        assert not inspect.iscoroutinefunction(getattr(sfbkit.Client, view)), view
    lab_signature = inspect.signature(sfbkit.lab.LabPool)
    assert list(lab_signature.parameters)[:3] == ["faults", "delay_ms", "config"]
    assert lab_signature.parameters["delay_ms"].default == 0
    assert callable(sfbkit.blocking.Client) and hasattr(sfbkit.lab.LabPool, "client")
