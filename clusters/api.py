"""REST API for clusters: serializers that never return a secret, views that call services."""

from __future__ import annotations

from typing import Any

from django.db.models import ProtectedError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import require_perm
from clusters import kube, services
from clusters.models import Cluster
from clusters.selectors import cluster_list
from core.ids import ID_PATH_REGEX
from core.schema import ErrorSerializer
from core.serializers import Strict


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
            "max_concurrent_drains",
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


class ClusterCreateSerializer(Strict):
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


class ClusterUpdateSerializer(Strict):
    name = serializers.CharField(max_length=63, required=False)
    api_url = serializers.CharField(max_length=2048, required=False)
    ca_pem = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    token = serializers.CharField(required=False, allow_blank=True, write_only=True)
    qps_limit = serializers.IntegerField(required=False, min_value=1, max_value=services.MAX_QPS)
    max_concurrent_drains = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=services.MAX_CONCURRENT_DRAINS,
        help_text="How many node drains may run at once on this cluster; later ones queue in submission order.",
    )


class CheckResultSerializer(serializers.Serializer):
    reachable = serializers.BooleanField()
    server_version = serializers.CharField()
    eviction_api_version = serializers.CharField()
    error = serializers.CharField()
    error_kind = serializers.CharField()


class LivePodsQuery(Strict):
    node = serializers.RegexField(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", required=False, max_length=253)
    namespace = serializers.RegexField(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", required=False, max_length=63)
    format = serializers.CharField(required=False)


class LivePdbsQuery(Strict):
    namespace = serializers.RegexField(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", required=False, max_length=63)
    format = serializers.CharField(required=False)


class OwnerSerializer(serializers.Serializer):
    kind = serializers.CharField()
    name = serializers.CharField()
    controller = serializers.BooleanField()


class LivePodSerializer(serializers.Serializer):
    """A pod as the cluster reports it now (clusters.kubetypes.Pod)."""

    namespace = serializers.CharField()
    name = serializers.CharField()
    uid = serializers.CharField()
    node = serializers.CharField()
    phase = serializers.CharField()
    ready = serializers.BooleanField()
    ready_since = serializers.DateTimeField(allow_null=True)
    labels = serializers.DictField(child=serializers.CharField())
    owners = OwnerSerializer(many=True)
    mirror = serializers.BooleanField()
    uses_emptydir = serializers.BooleanField()
    deleting = serializers.BooleanField()
    deletion_timestamp = serializers.DateTimeField(allow_null=True)
    termination_grace_seconds = serializers.IntegerField()
    created_at = serializers.DateTimeField(allow_null=True)


class RequirementSerializer(serializers.Serializer):
    key = serializers.CharField()
    operator = serializers.CharField()
    values = serializers.ListField(child=serializers.CharField())


class LabelSelectorSerializer(serializers.Serializer):
    match_labels = serializers.SerializerMethodField()
    match_expressions = RequirementSerializer(many=True)
    words = serializers.CharField(help_text="The selector as kubectl writes it.")

    def get_match_labels(self, obj: Any) -> dict[str, str]:
        return dict(obj.match_labels)


class LivePdbSerializer(serializers.Serializer):
    """A PodDisruptionBudget as the cluster reports it now (clusters.kubetypes.Pdb); `selector` null selects none."""

    namespace = serializers.CharField()
    name = serializers.CharField()
    uid = serializers.CharField()
    selector = LabelSelectorSerializer(allow_null=True)
    min_available = serializers.CharField(allow_null=True)
    max_unavailable = serializers.CharField(allow_null=True)
    disruptions_allowed = serializers.IntegerField()
    current_healthy = serializers.IntegerField()
    desired_healthy = serializers.IntegerField()
    expected_pods = serializers.IntegerField()
    generation = serializers.IntegerField()
    observed_generation = serializers.IntegerField()
    processed = serializers.BooleanField(help_text="The disruption controller has seen the current spec.")
    unhealthy_pod_eviction_policy = serializers.CharField()


class KubeErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Why the cluster could not be read, in words.")
    kind = serializers.CharField(help_text="tls, unauthorized, forbidden, timeout, refused, dns, …")


class ClusterPauseSerializer(Strict):
    reason = serializers.CharField(allow_blank=True, max_length=4000)


class ClusterResumeSerializer(Strict):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


def _kube_error(error: kube.KubeError) -> Response:
    # The cluster, not Drainboard, failed: a bad gateway, with the reason a person can act on.
    return Response({"detail": error.message, "kind": str(error.kind)}, status=status.HTTP_502_BAD_GATEWAY)


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
    lookup_value_regex = ID_PATH_REGEX

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

    @extend_schema(responses={204: None, 409: ErrorSerializer})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return super().destroy(request, *args, **kwargs)
        except ProtectedError:
            # Its eviction requests are history that must stay; a 409, not a 500.
            return Response(
                {"detail": "The cluster has eviction requests; it cannot be deleted."}, status=status.HTTP_409_CONFLICT
            )

    def perform_destroy(self, instance: Cluster) -> None:
        services.cluster_delete(actor=self.request.user, cluster=instance)

    @extend_schema(request=None, responses={200: CheckResultSerializer})
    @action(detail=True, methods=["post"])
    def check(self, request: Request, pk: str | None = None) -> Response:
        cluster = self.get_object()
        result = services.cluster_check(actor=request.user, cluster=cluster)
        return Response(CheckResultSerializer(result).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("node", OpenApiTypes.STR, description="Only pods on this node."),
            OpenApiParameter("namespace", OpenApiTypes.STR, description="Only pods in this namespace."),
        ],
        responses={200: LivePodSerializer(many=True), 502: KubeErrorSerializer},
        description="The cluster's pods, read live.",
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def pods(self, request: Request, pk: str | None = None) -> Response:
        cluster = self.get_object()
        query = LivePodsQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        try:
            pods = kube.list_pods(
                kube.Endpoint.for_cluster(cluster),
                namespace=query.validated_data.get("namespace", ""),
                node=query.validated_data.get("node", ""),
            )
        except kube.KubeError as error:
            return _kube_error(error)
        return Response(LivePodSerializer(sorted(pods, key=lambda p: (p.namespace, p.name)), many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("namespace", OpenApiTypes.STR, description="Only budgets in this namespace.")],
        responses={200: LivePdbSerializer(many=True), 502: KubeErrorSerializer},
        description="The cluster's PodDisruptionBudgets with their current numbers, read live.",
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def pdbs(self, request: Request, pk: str | None = None) -> Response:
        cluster = self.get_object()
        query = LivePdbsQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        try:
            pdbs = kube.list_pdbs(
                kube.Endpoint.for_cluster(cluster),
                namespace=query.validated_data.get("namespace", ""),
                api_version=cluster.eviction_api_version or "policy/v1",
            )
        except kube.KubeError as error:
            return _kube_error(error)
        return Response(LivePdbSerializer(sorted(pdbs, key=lambda p: (p.namespace, p.name)), many=True).data)

    @extend_schema(request=ClusterPauseSerializer, responses={200: ClusterSerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        """No new eviction attempt starts on this cluster; calls already in flight finish. Operators and admins."""
        cluster = self.get_object()
        require_perm(request.user, "evictions.intervene_evictionrequest")
        incoming = ClusterPauseSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        cluster = services.cluster_pause(actor=request.user, cluster=cluster, reason=incoming.validated_data["reason"])
        return Response(ClusterSerializer(cluster).data)

    @extend_schema(request=ClusterResumeSerializer, responses={200: ClusterSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        """Let automation on this cluster continue. Operators and admins."""
        cluster = self.get_object()
        require_perm(request.user, "evictions.intervene_evictionrequest")
        incoming = ClusterResumeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        cluster = services.cluster_resume(actor=request.user, cluster=cluster, reason=incoming.validated_data["reason"])
        return Response(ClusterSerializer(cluster).data)
