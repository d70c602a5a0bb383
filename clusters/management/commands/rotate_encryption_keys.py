"""`manage.py rotate_encryption_keys`: re-encrypt every stored secret with the first FIELD_ENCRYPTION_KEYS entry."""

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from audit.services import System, audit_record
from clusters.crypto import EncryptedTextField, SecretUnreadable, rotate


class Command(BaseCommand):
    help = "Re-encrypt all encrypted fields with the newest key; afterwards the old keys can be removed."

    def handle(self, *args: Any, **options: Any) -> None:
        quote = connection.ops.quote_name
        counts: dict[str, int] = {}
        with transaction.atomic():
            for model in apps.get_models():
                for field in model._meta.get_fields():
                    if not isinstance(field, EncryptedTextField):
                        continue
                    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column or "id")
                    column = quote(field.column or field.name)
                    # Raw tokens in, raw tokens out: no plaintext passes through a model instance or a log.
                    with connection.cursor() as cursor:
                        cursor.execute(f"SELECT {pk}, {column} FROM {table} WHERE {column} <> ''")  # noqa: S608
                        rows = cursor.fetchall()
                        for row_pk, token in rows:
                            try:
                                new_token = rotate(token)
                            except SecretUnreadable as error:
                                raise CommandError(f"{model._meta.label} #{row_pk} {field.name}: {error}") from None
                            cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {pk} = %s", [new_token, row_pk])  # noqa: S608
                    counts[f"{model._meta.label}.{field.name}"] = len(rows)
            audit_record(actor=System("cli"), action="secrets.rotate", details={"rows": counts})
        self.stdout.write(f"Re-encrypted with the newest key: {counts}")
