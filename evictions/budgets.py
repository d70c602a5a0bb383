"""Why a budget has no room, in words: the pods it selects that are not Ready. Pure functions over what the cluster
answered; the dashboard, the "why is it blocked?" panel and a stuck pod's note all say it through these."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from clusters.kubetypes import Pdb, Pod
from core.words import age_words


def unready_behind(pdb: Pdb, pods: Iterable[Pod], now: datetime) -> list[str]:
    """The pods the budget selects that are not Ready and not going away, each with its node, phase and for how long
    ('web-7f9 on node-2: Running, not Ready for 3m'): the reason a budget allows no disruption."""
    found = []
    for pod in pods:
        if pdb.selects(pod) and not pod.ready and not pod.deleting:
            since = pod.ready_since or pod.created_at
            age = f" for {age_words((now - since).total_seconds())}" if since else ""
            found.append(f"{pod.name} on {pod.node or 'no node'}: {pod.phase}, not Ready{age}")
    return found
