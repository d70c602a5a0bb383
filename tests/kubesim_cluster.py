"""Register a running kubesim as a Drainboard cluster (checked, so its eviction API version is known)."""

from __future__ import annotations

from audit.services import System
from clusters import services as cluster_services
from clusters.models import Cluster
from kubesim import Simulator


def register_sim(sim: Simulator, *, name: str = "demo", token: str | None = None, qps_limit: int = 50) -> Cluster:
    connection = cluster_services.connection_from_input(api_url=sim.url, ca_pem=sim.ca_pem, token=token or sim.token)
    created = cluster_services.cluster_create(
        actor=System("test"), name=name, connection=connection, qps_limit=qps_limit
    )
    cluster_services.cluster_check(actor=System("test"), cluster=created)
    created.refresh_from_db()
    return created
