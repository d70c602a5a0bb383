"""`manage.py demo_setup [--cluster demo]`: what `make run`'s demo needs beyond the admin, so that the approval flow
can be tried at once: a second person, `approver` (role approver; password from DRAINBOARD_APPROVER_PASSWORD or
generated, and shown or kept exactly as the admin's is), and a policy on the demo cluster that needs one approval.
Run again, it changes nothing: an existing approver keeps its password, a cluster with its own policy keeps it."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.roles import APPROVER
from accounts.setup import initial_user_ensure
from audit.services import System
from clusters.models import Cluster
from evictions.models import ApprovalPolicy
from evictions.services.approvals import PolicyInput, policy_set

DEMO_APPROVER = "approver"


class Command(BaseCommand):
    help = "Create the demo's approver and a one-approval policy on the demo cluster (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cluster", default="demo", help="the demo cluster's name")

    def handle(self, *args: Any, cluster: str, **options: Any) -> None:
        demo = Cluster.objects.filter(name=cluster).first()
        if demo is None:
            raise CommandError(f"no cluster named {cluster!r}: register it first (cluster_import)")
        try:
            initial_user_ensure(
                username=DEMO_APPROVER,
                roles=[APPROVER],
                password_env="DRAINBOARD_APPROVER_PASSWORD",
                say=self.stdout.write,
                warn=lambda text: self.stdout.write(self.style.WARNING(text)),
            )
        except ValidationError as error:
            raise CommandError(f"cannot create {DEMO_APPROVER!r}: {' '.join(error.messages)}") from None
        if ApprovalPolicy.objects.filter(cluster=demo).exists():
            self.stdout.write(f"Cluster {cluster!r} has its own approval policy; unchanged.")
            return
        policy_set(actor=System("setup"), cluster_id=demo.pk, data=PolicyInput(required_approvals=1))
        self.stdout.write(
            f"Cluster {cluster!r} now needs one approval per request: request as 'admin', approve as "
            f"{DEMO_APPROVER!r} (nobody approves their own request)."
        )
