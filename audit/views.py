"""The audit page: recent events and the state of the hash chain."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from audit.models import AuditEvent
from audit.selectors import audit_chain_verify


@login_required
@permission_required("audit.view_auditevent", raise_exception=True)
def audit_index(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.all()[:200]
    return render(request, "audit/index.html", {"events": events, "verification": audit_chain_verify()})
