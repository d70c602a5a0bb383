"""REST API for clusters: serializers that never return a secret, views that call services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import require_perm
from clusters import services
from clusters.models import Cluster
from clusters.selectors import cluster_list


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a typo is an error instead of a silent no-op."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return attrs


class ClusterSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)  # type: ignore[assignment]

    class Meta:
        model = Cluster
        fields = [
            "id",
            "name",
            "api_url",
            "ca_pem",
            "credential_kind",
            "qps_limit",
            "paused",
            "paused_reason",
            "status",
            "reachable",
            "server_version",
            "eviction_api_version",
            "last_error",
            "last_checked_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ClusterCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=63, required=False, allow_blank=True, default="")
    api_url = serializers.CharField(max_length=2048, required=False, allow_blank=True, default="")
    ca_pem = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    token = serializers.CharField(required=False, allow_blank=True, default="", write_only=True)
    kubeconfig = serializers.CharField(
        required=False, allow_blank=True, default="", write_only=True, trim_whitespace=False
    )
    # DRF's metaclass moves declared fields into _declared_fields, so this does not shadow Serializer.context.
    context = serializers.CharField(max_length=253, required=False, allow_blank=True, default="")  # type: ignore[assignment]
    qps_limit = serializers.IntegerField(required=False, default=10, min_value=1, max_value=services.MAX_QPS)


class ClusterUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=63, required=False)
    api_url = serializers.CharField(max_length=2048, required=False)
    ca_pem = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    token = serializers.CharField(required=False, allow_blank=True, write_only=True)
    qps_limit = serializers.IntegerField(required=False, min_value=1, max_value=services.MAX_QPS)


class CheckResultSerializer(serializers.Serializer):
    reachable = serializers.BooleanField()
    server_version = serializers.CharField()
    eviction_api_version = serializers.CharField()
    error = serializers.CharField()
    error_kind = serializers.CharField()


class CanViewClusters(BasePermission):
    message = "This needs the viewer role (clusters.view_cluster)."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.has_perm("clusters.view_cluster"))


class ClusterViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Clusters. Writes need the admin role; `check` needs operator or admin. Credentials are write-only."""

    serializer_class = ClusterSerializer
    permission_classes = [IsAuthenticated, CanViewClusters]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> Any:
        return cluster_list()

    @extend_schema(request=ClusterCreateSerializer, responses={201: ClusterSerializer})
    def create(self, request: Request) -> Response:
        require_perm(request.user, "clusters.add_cluster")
        incoming = ClusterCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        connection = services.connection_from_input(
            api_url=data["api_url"],
            ca_pem=data["ca_pem"],
            token=data["token"],
            kubeconfig=data["kubeconfig"],
            context=data["context"],
        )
        cluster = services.cluster_create(
            actor=request.user, name=data["name"], connection=connection, qps_limit=data["qps_limit"]
        )
        services.cluster_check(actor=request.user, cluster=cluster)  # every save is followed by a check
        return Response(ClusterSerializer(cluster).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ClusterUpdateSerializer, responses={200: ClusterSerializer})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        cluster = self.get_object()
        incoming = ClusterUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        cluster = services.cluster_update(actor=request.user, cluster=cluster, **incoming.validated_data)
        return Response(ClusterSerializer(cluster).data)

    def perform_destroy(self, instance: Cluster) -> None:
        services.cluster_delete(actor=self.request.user, cluster=instance)

    @extend_schema(request=None, responses={200: CheckResultSerializer})
    @action(detail=True, methods=["post"])
    def check(self, request: Request, pk: str | None = None) -> Response:
        cluster = self.get_object()
        result = services.cluster_check(actor=request.user, cluster=cluster)
        return Response(CheckResultSerializer(result).data)
