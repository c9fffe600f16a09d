"""Start-up options, each declared once: flag > environment variable > default.

A process's config dataclass declares every setting as a field made by `option()`
(or `keyed_options()` for a mapping): default, flags, variable, parser, help. The
argparse parser, the precedence, the error naming the flag or variable, and the
documentation check all read those declarations, so they cannot drift apart.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

_OPTIONS = "berth_options"
MISSING: Any = dataclasses.MISSING


class ConfigError(ValueError):
    """A bad or missing option; the message names the flag or variable and what is expected."""


@dataclasses.dataclass(frozen=True)
class Option:
    """One setting. `key` is set for one entry of a mapping field (e.g. a role's limit)."""

    flags: tuple[str, ...]
    env: str | None
    parse: Callable[[str], Any]
    help: str
    default: Any = None
    required: bool = False
    switch: bool = False
    name: str = ""
    key: Any = None

    @property
    def dest(self) -> str:
        return self.name if self.key is None else f"{self.name}:{self.key}"

    @property
    def flag(self) -> str:
        """The long flag, as messages name it."""
        return self.flags[-1]


def option(
    default: Any = MISSING,
    *flags: str,
    env: str | None = None,
    parse: Callable[[str], Any] = str,
    help: str,
    switch: bool = False,
) -> Any:
    """A config field read from `flags` or `env`; no default means the option is required."""
    required = default is MISSING
    spec = Option(flags, env, parse, help, None if required else default, required, switch)
    return dataclasses.field(default=default, metadata={_OPTIONS: (spec,)})


def keyed_options(defaults: Mapping[Any, Any], options: Mapping[Any, Option]) -> Any:
    """A mapping field whose entries are set one by one (one option per key)."""
    specs = tuple(
        dataclasses.replace(spec, key=key, default=defaults[key]) for key, spec in options.items()
    )
    return dataclasses.field(default_factory=lambda: dict(defaults), metadata={_OPTIONS: specs})


def declared_options(config_type: type) -> list[Option]:
    """Every option of a config dataclass, in declaration order."""
    return [
        dataclasses.replace(spec, name=field.name)
        for field in dataclasses.fields(config_type)
        for spec in field.metadata.get(_OPTIONS, ())
    ]


def add_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    options: Iterable[Option],
    absent: Any = None,
) -> None:
    """Flags are kept as text and parsed later, so a bad value is reported in our words;
    an option not given is `absent` (argparse.SUPPRESS leaves it out)."""
    for spec in options:
        if not spec.flags:
            continue
        env_note = f" [env {spec.env}]" if spec.env else ""
        if spec.switch:
            parser.add_argument(
                *spec.flags,
                dest=spec.dest,
                action="store_const",
                const="true",
                default=absent,
                help=spec.help + env_note,
            )
        else:
            parser.add_argument(
                *spec.flags, dest=spec.dest, default=absent, help=spec.help + env_note
            )


BadValue = Callable[[str, str, ValueError], str]


def name_equals_value(source: str, raw: str, error: ValueError) -> str:
    """`--flag='text': must be ...`: the default way a bad value is reported."""
    detail = str(error) if "must" in str(error) else f"not a valid value ({error})"
    return f"{source}={raw!r}: {detail}"


def resolve(
    options: Iterable[Option],
    flag_values: Mapping[str, Any],
    environ: Mapping[str, str],
    bad_value: BadValue = name_equals_value,
) -> dict[str, Any]:
    """The parsed value of every option given by flag or variable, by field name;
    a mapping field gets its defaults with the given entries replaced."""
    values: dict[str, Any] = {}
    for spec in options:
        raw = flag_values.get(spec.dest)
        source = spec.flag if spec.flags else ""
        if raw is None and spec.env is not None and spec.env in environ:
            raw, source = environ[spec.env], spec.env
        if raw is None:
            if spec.key is not None:
                values.setdefault(spec.name, {})[spec.key] = spec.default
            elif spec.required:
                also = f" (or {spec.env})" if spec.env else ""
                raise ConfigError(f"{spec.flag}{also} is required")
            continue
        try:
            value = spec.parse(str(raw))
        except ValueError as error:
            raise ConfigError(bad_value(source, str(raw), error)) from error
        if spec.key is not None:
            values.setdefault(spec.name, {})[spec.key] = value
        else:
            values[spec.name] = value
    return values
