"""Celery tasks of the audit log: advancing the chain's verification checkpoint."""

from __future__ import annotations

from celery import shared_task

from audit.services import audit_verification_advance

# Events per periodic run: a few seconds of HMACs; the next run continues from the checkpoint.
VERIFY_BATCH = 200_000


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=150)
def verify_chain() -> None:
    audit_verification_advance(limit=VERIFY_BATCH)
