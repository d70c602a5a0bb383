"""Page routes for eviction requests, their pods, and pausing a whole cluster."""

from django.urls import path

from evictions import views

urlpatterns = [
    path("requests/", views.request_index, name="requests"),
    path("requests/new/", views.request_new, name="request-new"),
    path("requests/nodes/", views.request_nodes, name="request-nodes"),
    path("requests/pods/", views.request_pods, name="request-pods"),
    path("requests/<int:pk>/", views.request_show, name="request-detail"),
    path("requests/<int:pk>/pause/", views.request_pause, name="request-pause"),
    path("requests/<int:pk>/resume/", views.request_resume, name="request-resume"),
    path("requests/<int:pk>/cancel/", views.request_cancel, name="request-cancel"),
    path("requests/<int:pk>/extend/", views.request_extend, name="request-extend"),
    path("requests/<int:pk>/retry/", views.request_retry, name="request-retry"),
    path("evictions/<int:pk>/retry/", views.pod_retry, name="pod-retry"),
    path("evictions/<int:pk>/skip/", views.pod_skip, name="pod-skip"),
    path("evictions/<int:pk>/force-delete/", views.pod_force_delete, name="pod-force-delete"),
    path("clusters/<int:pk>/pause/", views.cluster_pause, name="cluster-pause"),
    path("clusters/<int:pk>/resume/", views.cluster_resume, name="cluster-resume"),
]
