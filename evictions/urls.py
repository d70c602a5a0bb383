"""Page routes for eviction requests, their pods, approvals, the schedule, pausing a whole cluster, and a cluster's
maintenance windows and approval policy."""

from django.urls import path

from evictions import views

urlpatterns = [
    path("requests/", views.request_index, name="requests"),
    path("requests/new/", views.request_new, name="request-new"),
    path("requests/nodes/", views.request_nodes, name="request-nodes"),
    path("requests/pods/", views.request_pods, name="request-pods"),
    path("requests/<id:pk>/", views.request_show, name="request-detail"),
    path("requests/<id:pk>/timeline/", views.request_timeline, name="request-timeline"),
    path("requests/<id:pk>/pause/", views.request_pause, name="request-pause"),
    path("requests/<id:pk>/resume/", views.request_resume, name="request-resume"),
    path("requests/<id:pk>/cancel/", views.request_cancel, name="request-cancel"),
    path("requests/<id:pk>/extend/", views.request_extend, name="request-extend"),
    path("requests/<id:pk>/retry/", views.request_retry, name="request-retry"),
    path("requests/<id:pk>/approve/", views.request_approve, name="request-approve"),
    path("requests/<id:pk>/reject/", views.request_reject, name="request-reject"),
    path("evictions/", views.pod_index, name="evictions"),
    path("evictions/<id:pk>/retry/", views.pod_retry, name="pod-retry"),
    path("evictions/<id:pk>/skip/", views.pod_skip, name="pod-skip"),
    path("evictions/<id:pk>/force-delete/", views.pod_force_delete, name="pod-force-delete"),
    path("evictions/<id:pk>/delete-approve/", views.pod_delete_approve, name="pod-delete-approve"),
    path("evictions/<id:pk>/delete-reject/", views.pod_delete_reject, name="pod-delete-reject"),
    path("approvals/", views.approvals_inbox, name="approvals"),
    path("schedule/", views.schedule, name="schedule"),
    path("clusters/<id:pk>/pause/", views.cluster_pause, name="cluster-pause"),
    path("clusters/<id:pk>/resume/", views.cluster_resume, name="cluster-resume"),
    path("clusters/<id:pk>/windows/add/", views.window_add, name="window-add"),
    path("clusters/windows/<id:pk>/edit/", views.window_edit, name="window-edit"),
    path("clusters/windows/<id:pk>/delete/", views.window_delete, name="window-delete"),
    path("clusters/<id:pk>/policy/", views.policy_edit, name="policy-edit"),
    path("clusters/<id:pk>/policy/reset/", views.policy_reset, name="policy-reset"),
    path("clusters/policy/default/", views.policy_default, name="policy-default"),
]
