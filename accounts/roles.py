"""The five roles as Django groups, and the permissions each one carries."""

from __future__ import annotations

from typing import Any

VIEWER = "viewer"
REQUESTER = "requester"
APPROVER = "approver"
OPERATOR = "operator"
ADMIN = "admin"
ROLES = (VIEWER, REQUESTER, APPROVER, OPERATOR, ADMIN)

_READ = ["clusters.view_cluster", "audit.view_auditevent", "evictions.view_evictionrequest"]
_REQUEST = ["evictions.add_evictionrequest"]
_OPERATE = [
    "clusters.check_cluster",
    "evictions.intervene_evictionrequest",
    "evictions.force_delete_podeviction",
]

_APPROVE = ["evictions.approve_evictionrequest"]
_SCHEDULE = [
    "evictions.change_approvalpolicy",
    "evictions.add_maintenancewindow",
    "evictions.change_maintenancewindow",
    "evictions.delete_maintenancewindow",
]

# Each role lists everything it may do; "viewer" reads, the others read and add their own verbs.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: _READ,
    REQUESTER: [*_READ, *_REQUEST],
    APPROVER: [*_READ, *_APPROVE],
    OPERATOR: [*_READ, *_OPERATE],
    ADMIN: [
        *_READ,
        *_REQUEST,
        *_APPROVE,
        *_OPERATE,
        *_SCHEDULE,
        "clusters.add_cluster",
        "clusters.change_cluster",
        "clusters.delete_cluster",
        "notifications.add_notificationendpoint",
        "notifications.change_notificationendpoint",
        "notifications.delete_notificationendpoint",
        "notifications.view_notificationendpoint",
        "notifications.view_notificationdelivery",
        "audit.verify_auditevent",
    ],
}


def sync_role_groups(apps: Any) -> None:
    """Create the groups and give each exactly its permissions; used by data migrations."""
    from django.contrib.auth.management import create_permissions

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    # Permissions are normally created after all migrations ran; create them now so groups can hold them.
    for app_config in apps.get_app_configs():
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True  # historical app configs have none; Django skips those
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = original
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions = []
        for name in names:
            app_label, codename = name.split(".")
            found = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            # An app migrated later than this migration gets its permissions from its own sync migration.
            if found is not None:
                permissions.append(found)
        group.permissions.set(permissions)
