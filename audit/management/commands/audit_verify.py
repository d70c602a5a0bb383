"""`manage.py audit_verify`: walk the audit chain, store the result as the checkpoint; exit 1 naming the first broken
event by its id."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.models import AuditVerification
from audit.services import audit_verification_advance


def describe_break(state: AuditVerification) -> str:
    where = f"event id {state.broken_event_id} (sequence #{state.broken_sequence})"
    if state.broken_event_id is None:
        where = f"sequence #{state.broken_sequence}"
    return f"audit chain broken at {where}: {state.problem}"


class Command(BaseCommand):
    help = (
        "Verify the audit log's hash chain from its start (or the retention anchor) and record the result on the "
        "audit page; exit code 1 names the first broken event by id."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--incremental",
            action="store_true",
            help=(
                "recompute only the events after the last verified one, checking the earlier ones by the digest of "
                "their stored hashes (the periodic check; docs/RELIABILITY.md says what it cannot see)"
            ),
        )
        parser.add_argument("--limit", type=int, default=None, help="verify at most this many events in this run")

    def handle(self, *args: Any, **options: Any) -> None:
        limit = options["limit"]
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1")
        state = audit_verification_advance(full=not options["incremental"], limit=limit)
        if state.broken:
            raise CommandError(
                f"{describe_break(state)} ({state.verified_count} events verified before it)", returncode=1
            )
        upto = f"up to #{state.verified_sequence}" if state.verified_sequence is not None else "(no events)"
        self.stdout.write(f"audit chain verified: {state.verified_count} events, {upto}")
