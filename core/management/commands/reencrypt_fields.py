"""Re-encrypt every EncryptedJSONField value with the first key in FIELD_ENCRYPTION_KEYS.

Rotation: put the new key first, deploy, run this, then drop the old key.
"""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from core.fields import EncryptedJSONField, RawCiphertext, rotate_token


class Command(BaseCommand):
    help = "Re-encrypt all encrypted fields with the first FIELD_ENCRYPTION_KEYS key."

    def handle(self, *args, **options):
        total = 0
        for model in apps.get_models():
            fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedJSONField)]
            if not fields:
                continue
            table = model._meta.db_table
            count = 0
            for field in fields:
                column = field.column
                # Read raw ciphertext: from_db_value would decrypt it.
                rows = model.objects.exclude(**{f"{field.name}__isnull": True}).values_list("pk", flat=True)
                for pk in rows.iterator(chunk_size=500):
                    with transaction.atomic():
                        raw = (
                            model.objects.filter(pk=pk)
                            .select_for_update()
                            .extra(select={"raw": column})  # noqa: S610 - the column name comes from the model  # nosec B610
                            .values_list("raw", flat=True)
                            .first()
                        )
                        if not raw:
                            continue
                        model.objects.filter(pk=pk).update(**{field.name: RawCiphertext(rotate_token(raw))})
                        count += 1
            total += count
            self.stdout.write(f"{table}: {count} value(s) re-encrypted")
        self.stdout.write(f"Done: {total} value(s) re-encrypted.")
