"""Celery tasks of the audit log: the periodic incremental check and the daily whole-chain check."""

from __future__ import annotations

from celery import shared_task

from audit.services import audit_verification_advance

# New events per periodic run: a few seconds of HMACs; the next run continues from the checkpoint.
VERIFY_BATCH = 200_000


# The time limits allow for the fallback: when the digest below the checkpoint differs, the run recomputes the whole
# chain to name the broken event (a million events: docs/PERFORMANCE.md).
@shared_task(ignore_result=True, soft_time_limit=900, time_limit=960)
def verify_chain() -> None:
    audit_verification_advance(limit=VERIFY_BATCH)


@shared_task(ignore_result=True, soft_time_limit=1800, time_limit=1860)
def verify_chain_full() -> None:
    audit_verification_advance(full=True)
