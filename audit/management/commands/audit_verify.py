"""`manage.py audit_verify`: walk the audit chain; exit 1 naming the first broken link."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.selectors import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; exit code 1 names the first broken event."

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_chain_verify()
        if not result.ok:
            raise CommandError(
                f"audit chain broken at event #{result.broken_sequence}: {result.problem} "
                f"({result.checked} events verified before it)",
                returncode=1,
            )
        self.stdout.write(f"audit chain verified: {result.checked} events, last #{result.last_sequence}")
