"""`flask demo load` and `flask demo logins`."""
from __future__ import annotations

import unicodedata

import click
from flask.cli import AppGroup

demo_cli = AppGroup("demo", help="The demo brigade (北仑区): load it, list its logins.")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain-text table that lines up Chinese (double-width) and Latin text."""
    widths = [max(_width(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells):
        return "  ".join(str(c) + " " * (w - _width(str(c))) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


@demo_cli.command("load")
@click.option("--venues", default=None, type=click.IntRange(0, 200_000), help="Number of venues (default 3000).")
@click.option("--seed", default=None, type=int, help="Random seed (default 2017).")
def load_cmd(venues, seed):
    """Create the demo district, staff, owners and venues (running it again changes nothing)."""
    from server.demo.generate import DEFAULT_SEED, DEFAULT_VENUES, build_demo

    result = build_demo(seed=DEFAULT_SEED if seed is None else seed,
                        venues=DEFAULT_VENUES if venues is None else venues, log=click.echo)
    if result.created_anything:
        click.echo(f"演示数据已载入：区域 {result.areas_created} 个，账号 {result.users_created} 个，"
                   f"场所 {result.venues_created} 处，用时 {result.seconds:.1f} 秒。")
    else:
        click.echo("演示数据已存在，未做任何改动。")
    click.echo("演示账号请运行：flask demo logins")


@demo_cli.command("logins")
@click.option("--all", "show_all", is_flag=True, help="List every demo account in the database, owners included.")
def logins_cmd(show_all):
    """Print the demo logins (documented demo passwords: change them on a real server)."""
    from server.demo.generate import DEMO_LOGINS, DEMO_PASSWORD, ROLE_LABELS

    headers = ["角色", "用户名", "密码", "姓名", "辖区"]
    if show_all:
        rows = _all_demo_accounts(DEMO_PASSWORD, ROLE_LABELS)
    else:
        rows = [[ROLE_LABELS[d.role], d.username, d.password, d.display_name, d.areas] for d in DEMO_LOGINS]
    click.echo(format_table(headers, rows))
    click.echo("以上为演示账号（演示密码公开），正式使用前请修改密码或不要载入演示数据。")


def _all_demo_accounts(password, labels) -> list[list[str]]:
    from sqlalchemy import func, select

    from server.demo.generate import STAFF, VENUE_CODE_PREFIX
    from server.extensions import db
    from server.models import User, Venue, owner_venues

    staff = {u.username: u for u in db.session.scalars(
        select(User).where(User.username.in_([s.username for s in STAFF])))}
    # Owners of demo venues, in the order of their first venue's code.
    owners = db.session.scalars(
        select(User).join(owner_venues, owner_venues.c.user_id == User.id)
        .join(Venue, Venue.id == owner_venues.c.venue_id)
        .where(User.role == "owner", Venue.code.startswith(VENUE_CODE_PREFIX))
        .group_by(User.id).order_by(func.min(Venue.code))).all()
    users = [staff[s.username] for s in STAFF if s.username in staff] + list(owners)
    rows = []
    for user in users:
        if user.role == "owner":
            where = "、".join(v.name for v in user.venues)
        else:
            where = "、".join(a.name for a in user.areas)
        rows.append([labels[user.role], user.username, password, user.display_name, where])
    if not rows:
        raise click.ClickException("尚未载入演示数据：请先运行 flask demo load")
    return rows
