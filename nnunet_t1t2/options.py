"""Settings that are also command-line options, each defined once: its name, default, flag and help.

A settings class lists its settings (:class:`Setting`); :func:`add_options` builds their argparse
options, with the default shown in the help taken from the setting, and :func:`given_settings`
reads back only the options the user gave, by setting name. The values then go into the settings
class by keyword, never by position, so ``nnunet-t1t2 convert``, ``nnunet-t1t2 study`` and a
settings file (``convert --settings``) can neither disagree on a default nor shift one setting into
another's place.
"""
from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from nnunet_t1t2.errors import UserError

_SETTING = "nnunet_t1t2.setting"


@dataclass(frozen=True)
class Setting:
    name: str
    """The settings field, the option's ``dest`` and the key in files and records."""
    default: Any
    flag: str
    help: str
    type: type = float
    shown: str | None = None
    """The default as the help shows it, where the value alone would not say it (``0.2, 10 of 50``)."""
    metavar: str | None = None
    aliases: tuple[str, ...] = ()
    """Further flags of ``nnunet-t1t2 convert`` (not of the study, whose own options they would shadow)."""
    bounds: tuple[float | None, float | None] = (None, None)
    """Least and most allowed value, inclusive; None: no bound."""

    def check(self, value: Any) -> None:
        """Refuse a value outside :attr:`bounds`, naming the option."""
        low, high = self.bounds
        if (low is not None and value < low) or (high is not None and value > high):
            allowed = (f"lie in [{low:g}, {high:g}]" if low is not None and high is not None
                       else f"be at least {low:g}" if low is not None else f"be at most {high:g}")
            raise UserError(f"{self.flag} must {allowed}, not {value:g}")


def setting(default: Any, flag: str, help: str, **details: Any) -> Any:
    """A dataclass field that is also a command-line option (``details``: the rest of :class:`Setting`)."""
    return field(default=default, metadata={_SETTING: dict(flag=flag, help=help, **details)})


def settings_of(settings_class: type) -> list[Setting]:
    """The settings of a dataclass whose fields were made with :func:`setting`, in field order."""
    return [Setting(f.name, f.default, **{"type": _type_of(f.default), **f.metadata[_SETTING]})
            for f in fields(settings_class) if _SETTING in f.metadata]


def check_values(settings_class: type, instance: Any) -> None:
    """Refuse a value of ``instance`` outside its setting's bounds (for ``__post_init__``)."""
    for s in settings_of(settings_class):
        s.check(getattr(instance, s.name))


def add_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, settings: Iterable[Setting],
                aliases: bool = True) -> None:
    """An option per setting; an option not given stays out of the parsed namespace (the default comes
    from the setting, so it is written once)."""
    for s in settings:
        shown = s.shown if s.shown is not None else f"{s.default:g}" if isinstance(s.default, float) else s.default
        parser.add_argument(s.flag, *(s.aliases if aliases else ()), dest=s.name, type=s.type, metavar=s.metavar,
                            default=argparse.SUPPRESS, help=f"{s.help} [{shown}]")


def given_settings(args: argparse.Namespace, settings: Iterable[Setting]) -> dict[str, Any]:
    """The settings the user gave as options, by name."""
    return {s.name: getattr(args, s.name) for s in settings if hasattr(args, s.name)}


def known_settings(values: Mapping[str, Any], settings: Iterable[Setting], where: str) -> dict[str, Any]:
    """``values`` (from a file) checked against ``settings``: an unknown name is refused, not ignored."""
    by_name = {s.name: s for s in settings}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise UserError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
    return {name: by_name[name].type(value) for name, value in values.items()}


def _type_of(default: Any) -> type:
    return int if isinstance(default, int) and not isinstance(default, bool) else float
