"""URL routes: pages, the REST API under /api/v1/, its schema and docs."""

from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from accounts import views as account_views
from accounts.forms import LoginForm
from audit import api as audit_api
from clusters import views as cluster_views
from clusters.api import ClusterViewSet
from config import cluster_pages, health, metrics
from config import views as core_views
from core import api as core_api
from core.ids import IdConverter
from evictions import api as eviction_api
from notifications import api as notification_api

register_converter(IdConverter, "id")  # before the apps' urls are included below

router = DefaultRouter()
router.register("clusters", ClusterViewSet, basename="cluster")
eviction_api.register(router)
notification_api.register(router)

urlpatterns = [
    path("", core_views.dashboard, name="dashboard"),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="accounts/login.html", authentication_form=LoginForm),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", account_views.account, name="account"),
    path("clusters/", cluster_views.cluster_index, name="cluster-list"),
    path("clusters/add/", cluster_views.cluster_add, name="cluster-add"),
    path("clusters/<id:pk>/", cluster_pages.cluster_detail, name="cluster-detail"),
    path("clusters/<id:pk>/edit/", cluster_views.cluster_edit, name="cluster-edit"),
    path("clusters/<id:pk>/delete/", cluster_views.cluster_delete, name="cluster-delete"),
    path("clusters/<id:pk>/check/", cluster_views.cluster_check, name="cluster-check"),
    path("clusters/<id:pk>/pdbs/", cluster_pages.cluster_pdbs, name="cluster-pdbs"),
    path("audit/", include("audit.urls")),
    path("notifications/", include("notifications.urls")),
    path("", include("evictions.urls")),
    path("api/v1/audit/", audit_api.AuditEventList.as_view(), name="api-audit-list"),
    path("api/v1/audit/export.<str:fmt>", audit_api.AuditExport.as_view(), name="api-audit-export"),
    path("api/v1/", include((router.urls, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^api/", core_api.not_found),  # last: whatever no route above matched
]
