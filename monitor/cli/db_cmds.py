from __future__ import annotations

import click

from monitor.cli.app import App, fail, pass_app
from monitor.db import DatabaseError, upgrade


@click.command("init")
@pass_app
def init_command(app: App) -> None:
    """Create or upgrade the database schema (alembic upgrade head). Safe to run again.

    \b
    Example:
      claimwatch --db postgresql+psycopg://postgres@127.0.0.1/claimwatch init
    """
    try:
        upgrade(app.engine)
    except DatabaseError as exc:
        fail(str(exc))
    click.echo(f"database ready: {app.engine.url.render_as_string()}", err=True)


def register(group: click.Group) -> None:
    group.add_command(init_command)
