"""Routes of the audit pages (under /audit/)."""

from django.urls import path

from audit import views

urlpatterns = [
    path("", views.audit_index, name="audit"),
    path("export.<str:fmt>", views.audit_export, name="audit-export"),
    path("verify/", views.audit_verify_now, name="audit-verify"),
    path("chain-state/", views.audit_chain_state, name="audit-chain-state"),
]
