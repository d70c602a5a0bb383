"""The cluster registry's domain event: how the engine hears that automation on a cluster may continue, without the
registry importing it. Sent by the services inside the transaction of the change.

cluster_event(sender=Cluster, event, cluster)
  event    paused | resumed
  cluster  the Cluster as it is after the change
"""

from __future__ import annotations

from django.dispatch import Signal

cluster_event = Signal()
