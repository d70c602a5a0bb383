"""Short claims, kept alive while their attempt runs.

An attempt claims its pod until a moment CLAIM_SECONDS ahead (the claim's token). While the attempt waits on the
cluster (the rate limit, a slow eviction call, an admission webhook), a thread of its process moves that moment on
every RENEW_SECONDS. So a claim outlives a live attempt however slow, and a worker killed mid-attempt stops renewing:
its pod is free for another within CLAIM_SECONDS, not within the longest an attempt could take.

A renewal is a compare-and-swap on the token: if the claim ran out meanwhile (this process stalled, or the database
was away) and another attempt took the pod, the renewal finds another token and the claim is lost; the attempt then
records what the cluster answered and changes nothing (see pods._record).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DatabaseError, connection
from django.utils import timezone

from evictions.models import PodEviction

CLAIM_SECONDS = 8  # a worker that dies mid-attempt loses its claim after this
RENEW_SECONDS = 2  # how often a live attempt's claim is moved on (well inside CLAIM_SECONDS: a stall of 6 s is lost)

log = logging.getLogger(__name__)


@dataclass
class Claim:
    pod_id: int
    until: datetime | None  # the token: what claimed_until holds while this claim is ours; None once lost


def claim_until(now: datetime) -> datetime:
    return now + timedelta(seconds=CLAIM_SECONDS)


class Keeper:
    """This process's claims in flight, and the thread that renews them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[int, Claim] = {}
        self._pid = 0

    @contextmanager
    def holding(self, pod_id: int, until: datetime) -> Iterator[Claim]:
        """Renew the claim while the block runs; afterwards claim.until is the token the row should hold now (None:
        the claim was lost). Leaving waits for a renewal in progress, so the token read afterwards is final."""
        claim = Claim(pod_id, until)
        with self._lock:
            self._held[pod_id] = claim
            self._start()
        try:
            yield claim
        finally:
            with self._lock:
                self._held.pop(pod_id, None)

    def renew_due(self, now: datetime) -> int:
        """Move on every held claim that ends within CLAIM_SECONDS - RENEW_SECONDS; returns how many were renewed."""
        renewed = 0
        with self._lock:
            for claim in list(self._held.values()):
                if claim.until is None or claim.until - now > timedelta(seconds=CLAIM_SECONDS - RENEW_SECONDS):
                    continue
                new = claim_until(now)
                swapped = PodEviction.objects.filter(pk=claim.pod_id, claimed_until=claim.until).update(
                    claimed_until=new
                )
                claim.until = new if swapped else None
                renewed += swapped
        return renewed

    def _start(self) -> None:
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()  # after a fork (a pool child) the parent's thread is not here: start one
        threading.Thread(target=self._run, name="claim-keeper", daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(RENEW_SECONDS / 2)
            try:
                self.renew_due(timezone.now())
            except DatabaseError as error:  # the database is away: try again; the claims may run out meanwhile
                log.warning("renewing claims failed: %s", error)
                connection.close()
            except Exception:
                log.exception("renewing claims failed")
            if not self._held:
                connection.close()  # slow attempts are rare: hold no connection between them


keeper = Keeper()
