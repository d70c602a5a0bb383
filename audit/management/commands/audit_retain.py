"""`manage.py audit_retain --export PATH [--older-than DAYS]`: export, then remove, audit events older than the limit
while keeping the chain verifiable."""

from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit.export import FORMATS
from audit.services import RetentionRefused, System, audit_retain


class Command(BaseCommand):
    help = (
        "Export the audit events older than --older-than days (default AUDIT_RETENTION_DAYS) to --export, then "
        "remove them; the chain then starts from the first kept event, anchored by an audit.retention event."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=int, default=None, metavar="DAYS")
        parser.add_argument("--export", required=True, metavar="PATH", help="file to write first (.csv or .json)")
        parser.add_argument("--format", choices=FORMATS, default=None, help="default: from the file's extension")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["older_than"] if options["older_than"] is not None else settings.AUDIT_RETENTION_DAYS
        if days <= 0:
            raise CommandError("nothing to do: give --older-than DAYS (AUDIT_RETENTION_DAYS is 0, keep forever)")
        path = Path(options["export"])
        fmt = options["format"] or path.suffix.lstrip(".").lower()
        if fmt not in FORMATS:
            raise CommandError("give --format csv or json, or an export file ending in .csv or .json")
        if path.exists():
            raise CommandError(f"{path} exists; choose a new file (an export is never overwritten)")
        if not path.parent.is_dir():
            raise CommandError(f"{path.parent} is not a directory")
        older_than = timezone.now() - timedelta(days=days)
        try:
            result = audit_retain(actor=System("retention"), older_than=older_than, export_to=path, fmt=fmt)
        except RetentionRefused as refused:
            raise CommandError(str(refused), returncode=1) from None
        if not result.removed:
            self.stdout.write(f"no audit events older than {days} days")
            return
        self.stdout.write(
            f"removed {result.removed} events older than {days} days, exported to {path} "
            f"(sha256 {result.export_sha256}); the chain now starts at #{result.first_kept_sequence}"
        )
