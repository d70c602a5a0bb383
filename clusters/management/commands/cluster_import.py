"""`manage.py cluster_import --kubeconfig FILE [--context NAME] [--name NAME] [--replace]`: register a cluster."""

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from audit.services import System
from clusters import services
from clusters.kubeconfig import MAX_KUBECONFIG_BYTES
from clusters.models import Cluster


class Command(BaseCommand):
    help = "Register a cluster from a kubeconfig context (token or client certificate; exec plugins are refused)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--kubeconfig", required=True, help="path to the kubeconfig file")
        parser.add_argument("--context", default="", help="context to use (default: current-context)")
        parser.add_argument("--name", default="", help="cluster name in Drainboard (default: the context name)")
        parser.add_argument(
            "--replace", action="store_true", help="update the cluster of that name if it exists (e.g. new token)"
        )
        parser.add_argument("--no-check", action="store_true", help="skip the connectivity check")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["kubeconfig"])
        try:
            if path.stat().st_size > MAX_KUBECONFIG_BYTES:
                raise CommandError(f"{path} is larger than {MAX_KUBECONFIG_BYTES // 1024} KiB")
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"cannot read {path}: {error}") from None
        actor = System("cli")
        try:
            connection = services.connection_from_input(kubeconfig=text, context=options["context"])
            name = options["name"] or connection.suggested_name
            existing = Cluster.objects.filter(name=name).first()
            if existing and options["replace"]:
                cluster = services.cluster_update(actor=actor, cluster=existing, connection=connection)
                verb = "Updated"
            else:
                cluster = services.cluster_create(actor=actor, name=name, connection=connection)
                verb = "Registered"
        except ValidationError as error:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items())
            raise CommandError(problems) from None
        self.stdout.write(f"{verb} cluster {cluster.name!r} ({cluster.api_url}).")
        if not options["no_check"]:
            result = services.cluster_check(actor=actor, cluster=cluster)
            if result.reachable:
                self.stdout.write(
                    f"Reachable: Kubernetes {result.server_version}, eviction via {result.eviction_api_version}."
                )
            else:
                self.stdout.write(self.style.WARNING(f"Not reachable: {result.error}"))
