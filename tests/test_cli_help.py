"""Every command explains itself with an example (datasette/sqlite-utils habit)."""

from __future__ import annotations

import click
import pytest

from monitor.cli import cli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in sorted(group.commands.items()):
        found.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
    return found


@pytest.mark.parametrize(("path", "command"), _commands(cli), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_has_help_with_an_example(path: tuple[str, ...], command: click.Command) -> None:
    assert command.help, f"`claimwatch {' '.join(path)}` has no help text"
    assert "Example" in command.help and "claimwatch" in command.help.split("Example", 1)[1], (
        f"`claimwatch {' '.join(path)}` help has no example"
    )


def test_the_documented_contract_commands_exist() -> None:
    names = {" ".join(path) for path, _command in _commands(cli)}
    assert {"init", "sites add", "sites import", "sites list", "sites remove", "crawl", "export", "changes",
            "demo"} <= names
