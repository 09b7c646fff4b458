"""What the command modules share: opening the database, who acts (``--as``), the API's route gate.

    settings, db = open_database(args)          # settings loaded, schema at the code's revision
    with db.session() as s:
        actor = acting(s, args.as_user, write=True, what="enter results")
        route_gate(actor, "POST", "/api/results")   # the route's role set, as the HTTP layer checks it

A command acts as the operator (``policy.OPERATOR``, an admin) unless ``--as USER`` names a person;
then that person's roles and ownership apply, through the same policy functions as the API. A write
must name a person (``write=True``), so that the audit log says who did it.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any, TypeVar

from orchestrator.errors import Forbidden, NotFound, UserError

if TYPE_CHECKING:
    from pydantic import BaseModel
    from sqlalchemy.orm import Session

    from orchestrator.auth import Identity
    from orchestrator.config import Settings
    from orchestrator.services import Services
    from orchestrator.store.db import Database
    from orchestrator.store.models import Person

Model = TypeVar("Model", bound="BaseModel")


def open_database(args: argparse.Namespace) -> tuple[Settings, Database]:
    """The settings of ``--config`` and their database, refused unless its schema is current."""
    from orchestrator.config import load_settings
    from orchestrator.store.db import Database

    settings = load_settings(getattr(args, "config", None))
    db = Database.from_url(settings.effective_database_url)
    db.check_revision()
    return settings, db


def open_services(args: argparse.Namespace) -> Services:
    """``Services`` (database, Redis when configured) for commands that call what the API's handlers call."""
    from orchestrator.config import load_settings
    from orchestrator.services import Services

    svc = Services.build(load_settings(getattr(args, "config", None)))
    svc.db.check_revision()
    return svc


def add_as(parser: argparse.ArgumentParser, *, write: bool) -> None:
    if write:
        parser.add_argument("--as", dest="as_user", required=True, metavar="USER",
                            help="who does this (their rights apply; the audit log names them)")  # fmt: skip
    else:
        parser.add_argument("--as", dest="as_user", metavar="USER",
                            help="see what this person may see (default: the operator sees all)")  # fmt: skip


def person_named(s: Session, ref: str) -> Person:
    """A person by username, or by number (their id)."""
    from sqlalchemy import select

    from orchestrator.store.models import Person

    person = s.get(Person, int(ref)) if ref.isdigit() else s.scalar(select(Person).where(Person.username == ref.lower()))
    if person is None:
        raise NotFound(f"no person {ref!r}")
    return person


def acting(s: Session, as_user: str | None, *, write: bool = False, what: str = "do this") -> Identity:
    """The identity a command acts as: the named person, or the operator for a read without ``--as``."""
    from orchestrator.auth import identity_of
    from orchestrator.policy import OPERATOR

    if not as_user:
        if write:
            raise UserError(f"say who does this: --as USER (to {what}; the audit log names them)")
        return OPERATOR
    person = person_named(s, as_user)
    if not person.active:
        raise Forbidden(f"{person.username}'s account is disabled", code="account_disabled")
    return identity_of(person)


def route_gate(actor: Identity, method: str, path: str) -> None:
    """The role set the API route declares, checked as ``orchestrator.http`` checks it (same message)."""
    from orchestrator.api import api
    from orchestrator.http import AUTHENTICATED, PUBLIC

    for spec in api.routes:
        if spec.method == method and spec.path == path:
            if spec.roles in (PUBLIC, AUTHENTICATED) or actor.roles & spec.roles:
                return
            raise Forbidden(f"{spec.method} {spec.path} needs one of the roles: {', '.join(sorted(spec.roles))}")
    raise LookupError(f"no API route {method} {path}")  # a programming error: the command names a route that is gone


def validated(model: type[Model], **fields: Any) -> Model:
    """``fields`` checked by the API's body model; the first problem as the API words it."""
    from pydantic import ValidationError

    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        raise UserError(f"{where}: {err['msg']}", code="invalid_body", status=422) from None


def print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=1, default=str))
