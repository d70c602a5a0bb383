"""Builders for Kubernetes-shaped JSON objects and Status error bodies."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

Obj = dict[str, Any]

# Matches the format of the real API server (RFC 3339, second precision, UTC).
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def now_iso(offset_seconds: float = 0.0) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=offset_seconds)
    return moment.strftime(TIME_FORMAT)


def parse_iso(value: str) -> datetime.datetime:
    return datetime.datetime.strptime(value, TIME_FORMAT).replace(tzinfo=datetime.UTC)


def new_uid() -> str:
    return str(uuid.uuid4())


def meta(name: str, namespace: str | None = None, **extra: Any) -> Obj:
    m: Obj = {"name": name}
    if namespace is not None:
        m["namespace"] = namespace
    m["uid"] = extra.pop("uid", None) or new_uid()
    m["resourceVersion"] = "0"
    m["creationTimestamp"] = extra.pop("creationTimestamp", None) or now_iso()
    for k, v in extra.items():
        if v:
            m[k] = v
    return m


def condition(ctype: str, status: bool, reason: str = "", message: str = "") -> Obj:
    c: Obj = {
        "type": ctype,
        "status": "True" if status else "False",
        "lastProbeTime": None,
        "lastTransitionTime": now_iso(),
    }
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


# --- Status bodies -----------------------------------------------------------------------


def status_failure(
    code: int,
    reason: str,
    message: str,
    details: Obj | None = None,
) -> Obj:
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details if details is not None else {},
        "code": code,
    }
    return body


def status_success(code: int = 201) -> Obj:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}


def not_found(resource: str, name: str, group: str = "") -> Obj:
    gr = f"{resource}.{group}" if group else resource
    details: Obj = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return status_failure(404, "NotFound", f'{gr} "{name}" not found', details)


def path_not_found() -> Obj:
    return status_failure(404, "NotFound", "the server could not find the requested resource")


def bad_request(message: str) -> Obj:
    return status_failure(400, "BadRequest", message)


def method_not_allowed() -> Obj:
    return status_failure(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def unauthorized() -> Obj:
    body = status_failure(401, "Unauthorized", "Unauthorized")
    del body["details"]  # the real 401 body has no details
    return body


def forbidden(resource: str, name: str, why: str, causes: list[Obj] | None = None) -> Obj:
    details: Obj = {"name": name, "kind": resource}
    if causes:
        details["causes"] = causes
    return status_failure(403, "Forbidden", f'{resource} "{name}" is forbidden: {why}', details)


def conflict(resource: str, name: str, why: str) -> Obj:
    return status_failure(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {resource} "{name}": {why}',
        {"name": name, "kind": resource},
    )


def too_many_requests(message: str, retry_after: int = 0, causes: list[Obj] | None = None) -> Obj:
    details: Obj = {}
    if causes:
        details["causes"] = causes
    if retry_after > 0:
        details["retryAfterSeconds"] = retry_after
    return status_failure(429, "TooManyRequests", message, details)


def internal_error(message: str) -> Obj:
    return status_failure(
        500,
        "InternalError",
        f"Internal error occurred: {message}",
        {"causes": [{"message": message}]},
    )


def gateway_timeout(message: str, retry_after: int = 10) -> Obj:
    return status_failure(504, "Timeout", message, {"retryAfterSeconds": retry_after})


def invalid(group: str, kind: str, name: str, causes: list[Obj]) -> Obj:
    gk = f"{kind}.{group}" if group else kind
    summary = "; ".join(f"{c['field']}: {c['message']}" for c in causes)
    details: Obj = {"name": name, "kind": kind, "causes": causes}
    if group:
        details["group"] = group
    return status_failure(422, "Invalid", f'{gk} "{name}" is invalid: {summary}', details)


def unsupported_media_type(content_type: str) -> Obj:
    return status_failure(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json-patch+json, application/merge-patch+json, "
        f"application/apply-patch+yaml, application/strategic-merge-patch+json"
        f" (got {content_type or 'none'})",
    )


# --- object helpers ----------------------------------------------------------------------


def get_condition(obj: Obj, ctype: str) -> Obj | None:
    for c in obj.get("status", {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def set_condition(obj: Obj, ctype: str, status: bool, reason: str = "", message: str = "") -> bool:
    """Set a status condition; returns True if anything changed. Keeps lastTransitionTime stable."""
    conditions = obj.setdefault("status", {}).setdefault("conditions", [])
    wanted = "True" if status else "False"
    for c in conditions:
        if c.get("type") == ctype:
            changed = c.get("status") != wanted or c.get("reason", "") != reason or c.get("message", "") != message
            if c.get("status") != wanted:
                c["lastTransitionTime"] = now_iso()
            c["status"] = wanted
            if reason:
                c["reason"] = reason
            else:
                c.pop("reason", None)
            if message:
                c["message"] = message
            else:
                c.pop("message", None)
            return changed
    conditions.append(condition(ctype, status, reason, message))
    return True


def is_pod_ready(pod: Obj) -> bool:
    c = get_condition(pod, "Ready")
    return bool(c and c.get("status") == "True")


def controller_ref(obj: Obj) -> Obj | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owner_ref(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
