"""The eviction engine's domain event: how higher apps (notifications, next rollouts) hear about requests without
the engine importing them. Sent by the services, inside the transaction of the change it describes, so a receiver
that writes rows (a notification's deliveries) writes them with the change or not at all; a receiver must not raise
(the notifications receiver works in a savepoint and logs its failures).

request_event(sender=EvictionRequest, event, request, text)
  event    approval_requested | approved | rejected | started | blocked | needs_intervention | finished
  request  the EvictionRequest as it is after the change (status, status_reason, cluster_id …)
  text     a detail in words for the line (which pod, why), or ""
"""

from __future__ import annotations

from django.dispatch import Signal

request_event = Signal()
