"""`claimwatch serve` (the web app, docs/webapp.md) and `claimwatch users ...` (its accounts)."""

from __future__ import annotations

import sys

import click

from monitor.cli.app import App, fail, pass_app
from monitor.terminal import one_line


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (keep 127.0.0.1 behind a reverse proxy).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="Port to listen on.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Worker processes (gunicorn).")
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True, help="Threads per worker.")
@click.option("--no-access-log", is_flag=True, help="Do not log each request to stderr.")
@pass_app
def serve_command(app: App, host: str, port: int, workers: int, threads: int, no_access_log: bool) -> None:
    """Run the analysts' web app (inbox and triage, seller and page history, search, evidence) on the
    same database as the crawler, under gunicorn. Sign in with an account from `claimwatch users add`.

    \b
    Example:
      claimwatch users add ann --role analyst
      claimwatch serve --host 127.0.0.1 --port 8080
    """
    from monitor.web.secret import SecretKeyError, load_secret_key
    from monitor.web.server import serve

    app.sessions()  # the database must exist and be initialised
    try:
        load_secret_key(app.settings)  # made once here, before the workers start, so they all share it
    except SecretKeyError as exc:
        fail(str(exc))
    app.close()  # the workers open their own connections after the fork
    click.echo(f"claimwatch web app on http://{host}:{port}/ ({workers} workers x {threads} threads); "
               "Ctrl-C stops it", err=True)
    serve(app.settings, host=host, port=port, workers=workers, threads=threads, access_log=not no_access_log)


def _read_password(prompt: bool) -> str:
    """From a prompt (twice, hidden) on a terminal, else the first line of stdin."""
    if prompt and sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


@click.group("users")
def users_group() -> None:
    """Accounts of the web app: viewers read, analysts triage and crawl, admins manage sites and users.

    \b
    Example:
      claimwatch users add ann --role analyst          # password prompted (or read from stdin)
      claimwatch users list
    """


@users_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "analyst", "admin"]), required=True, help="What the user may do.")
@pass_app
def users_add(app: App, name: str, role: str) -> None:
    """Add a user; the password (at least 10 characters) is prompted, or read from stdin's first line.

    \b
    Example:
      printf '%s\\n' "$PASSWORD" | claimwatch users add ann --role analyst
    """
    from monitor.web.audit import cli_actor
    from monitor.web.users import UserError, add_user

    password = _read_password(prompt=True)
    try:
        with app.sessions().begin() as session:
            add_user(session, name, password, role, actor=cli_actor())
    except UserError as exc:
        fail(str(exc))
    click.echo(f"added user {name.strip().lower()} ({role})", err=True)


@users_group.command("list")
@pass_app
def users_list(app: App) -> None:
    """List the users, their roles and states.

    \b
    Example:
      claimwatch users list
    """
    from monitor.web.users import list_users

    with app.sessions().begin() as session:
        users = list_users(session)
        if not users:
            click.echo("(no users: add one with `claimwatch users add NAME --role admin`)")
        for user in users:
            state = "enabled" if user.enabled else "disabled"
            last = user.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if user.last_login_at else "never signed in"
            click.echo(f"{one_line(user.name):<24} {user.role:<8} {state:<9} {last}")


@users_group.command("disable")
@click.argument("name")
@pass_app
def users_disable(app: App, name: str) -> None:
    """Disable a user: their sessions end at once; `users enable` (or `passwd`) does not bring them back
    without a new sign-in.

    \b
    Example:
      claimwatch users disable ann
    """
    from monitor.web.audit import cli_actor
    from monitor.web.users import UserError, set_enabled

    try:
        with app.sessions().begin() as session:
            set_enabled(session, name, False, actor=cli_actor())
    except UserError as exc:
        fail(str(exc))
    click.echo(f"disabled user {name}", err=True)


@users_group.command("enable")
@click.argument("name")
@pass_app
def users_enable(app: App, name: str) -> None:
    """Enable a disabled user again.

    \b
    Example:
      claimwatch users enable ann
    """
    from monitor.web.audit import cli_actor
    from monitor.web.users import UserError, set_enabled

    try:
        with app.sessions().begin() as session:
            set_enabled(session, name, True, actor=cli_actor())
    except UserError as exc:
        fail(str(exc))
    click.echo(f"enabled user {name}", err=True)


@users_group.command("passwd")
@click.argument("name")
@pass_app
def users_passwd(app: App, name: str) -> None:
    """Set a user's password (prompted, or stdin's first line); their sessions end.

    \b
    Example:
      claimwatch users passwd ann
    """
    from monitor.web.audit import cli_actor
    from monitor.web.users import UserError, set_password

    password = _read_password(prompt=True)
    try:
        with app.sessions().begin() as session:
            set_password(session, name, password, actor=cli_actor())
    except UserError as exc:
        fail(str(exc))
    click.echo(f"password of {name} changed", err=True)


def register(group: click.Group) -> None:
    group.add_command(serve_command)
    group.add_command(users_group)
