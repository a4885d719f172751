"""Flask CLI: `flask users ...`, `flask reference load`, `flask demo ...`."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from server.services.errors import DomainError

users_cli = AppGroup("users", help="Manage user accounts.")


def _fail(err: DomainError):
    raise click.ClickException(err.message("zh-CN"))


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "supervisor", "inspector", "owner"]), required=True)
@click.option("--name", "display_name", required=True, help="Display name, e.g. 张三")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--area", "area_codes", multiple=True, help="Area code (repeatable)")
@click.option("--enforcement-id", default=None, help="执法证号 (inspectors)")
def create_user_cmd(username, role, display_name, password, area_codes, enforcement_id):
    """Create a user account."""
    from sqlalchemy import select

    from server.extensions import db
    from server.models import Area
    from server.services import accounts

    area_ids = []
    for code in area_codes:
        area = db.session.scalar(select(Area).where(Area.code == code))
        if area is None:
            raise click.ClickException(f"未找到区域编码 {code}")
        area_ids.append(area.id)
    try:
        user = accounts.create_user(None, username=username, password=password, display_name=display_name,
                                    role=role, area_ids=area_ids, enforcement_id=enforcement_id)
    except DomainError as err:
        _fail(err)
    click.echo(f"created user {user.username} (id {user.id}, role {user.role})")


@users_cli.command("set-password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def set_password_cmd(username, password):
    """Set a user's password and end their sessions."""
    from server.services import accounts

    try:
        accounts.set_password(None, username, password)
    except DomainError as err:
        _fail(err)
    click.echo(f"password set for {username}")


@click.command("tick")
@click.option("--date", "as_of", default=None, help="ISO date to run for (default: today in China)")
def tick_cmd(as_of):
    """Daily tick: notified or claimed hazards past their deadline become overdue."""
    from datetime import date

    from server.services import hazards
    from server.services.inspections import local_today

    day = date.fromisoformat(as_of) if as_of else local_today()
    changed = hazards.mark_overdue_hazards(day)
    click.echo(f"{day.isoformat()}: {len(changed)} 项隐患逾期未改")


def register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(tick_cmd)
    for module_name, attr in CLI_GROUPS:
        import importlib

        module = importlib.import_module(module_name)
        app.cli.add_command(getattr(module, attr))


# Other command groups, each owned by its module.
CLI_GROUPS: list[tuple[str, str]] = [
    ("server.demo.cli", "demo_cli"),
    ("server.reference_cli", "reference_cli"),
]
