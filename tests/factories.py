"""factory_boy factories for users and clusters."""

from __future__ import annotations

import factory
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.roles import ROLES, sync_role_groups
from clusters.models import Cluster, CredentialKind, Credentials

PASSWORD = "correct-horse-battery-staple"


def ensure_role_groups() -> None:
    """Transactional tests flush tables, data-migration rows included; put the role groups back."""
    if Group.objects.filter(name__in=ROLES).count() < len(ROLES):
        sync_role_groups(django_apps)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if create and extracted:
            ensure_role_groups()
            self.groups.set(Group.objects.filter(name__in=extracted))
        if create:
            self.save()


class ClusterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cluster

    name = factory.Sequence(lambda n: f"cluster-{n}")
    api_url = factory.Sequence(lambda n: f"https://k8s-{n}.example.com:6443")
    credential_kind = CredentialKind.TOKEN
    credentials_secret = factory.Sequence(lambda n: Credentials(token=f"factory-token-{n}").to_json())


def running_drain(cluster: Cluster, requester: object, *, node: str = "node-1", reason: str = "test") -> object:
    """A drain already running with its pods listed (rows are added by the test): the state an attempt works in."""
    from django.utils import timezone

    from evictions.models import EvictionRequest, RequestStatus

    return EvictionRequest.objects.create(
        cluster=cluster,
        kind="drain",
        status=RequestStatus.RUNNING,
        requester=requester,
        reason=reason,
        node=node,
        pods_created_at=timezone.now(),
    )
