"""`flask reference ...`: load the reference data files, check them, show calendar coverage."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from server.services.errors import DomainError

reference_cli = AppGroup("reference", help="Reference data: checklists, legal bases, calendar.")


def _fail(err: DomainError):
    raise click.ClickException(err.message("zh-CN"))


def describe(report: dict) -> list[str]:
    """Human lines for a load report (what changed, and what was left alone)."""
    lb, cl = report["legal_bases"], report["checklists"]
    lines = []
    if lb["added"]:
        lines.append(f"legal bases added ({len(lb['added'])}): {', '.join(lb['added'])}")
    if lb["updated"]:
        lines.append(f"legal bases updated ({len(lb['updated'])}): {', '.join(lb['updated'])}")
    if lb["not_in_files"]:
        lines.append(f"legal bases kept but no longer in the file: {', '.join(lb['not_in_files'])}")
    for t in cl["created"]:
        lines.append(f"checklist {t['venue_type']} v{t['version']} created ({t['items']} items), now current")
    if not (lb["added"] or lb["updated"] or cl["created"]):
        lines.append(f"reference data unchanged ({lb['unchanged']} legal bases, "
                     f"{len(cl['unchanged'])} checklist templates)")
    return lines


@reference_cli.command("load")
def load_cmd():
    """Load server/data/ into the database (idempotent) and print what changed."""
    from server.services import reference

    try:
        report = reference.load_all()
    except DomainError as err:
        _fail(err)
    for line in describe(report):
        click.echo(line)


@reference_cli.command("check")
def check_cmd():
    """Validate the data files without touching the database."""
    from server.services import reference

    try:
        files = reference.read_files()
    except DomainError as err:
        _fail(err)
    unverified = [c for c, b in files["bases"].items() if b["unverified"]]
    click.echo(f"{len(files['bases'])} legal bases ({len(unverified)} unverified), "
               f"{len(files['templates'])} checklist types: "
               + ", ".join(f"{t}=v{v['version']}/{len(v['items'])}" for t, v in files["templates"].items()))


@reference_cli.command("calendar")
def calendar_cmd():
    """Show which years have an official holiday schedule."""
    from server.services import calendar

    click.echo(json.dumps(calendar.calendar_coverage(), ensure_ascii=False, indent=2))
