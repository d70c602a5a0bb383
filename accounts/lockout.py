"""django-axes' database handler, writing the audit event of a lock-out in the transaction that records it."""

from __future__ import annotations

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from django.db import transaction

from accounts.services import account_lockout_record


class AuditedAxesHandler(AxesDatabaseHandler):
    """AXES_HANDLER: as the database handler, plus an `account.locked_out` event when a failure locks a user out.

    Axes records the failure (AccessAttempt) in its own atomic block and only then sends `user_locked_out`, after
    that block has committed; wrapping the whole handler in one transaction puts the failure that locks and its audit
    event in the same commit. Failures while already locked out (axes keeps counting them) write no event."""

    def user_login_failed(self, sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
        if request is None:
            super().user_login_failed(sender, credentials, request=request, **kwargs)
            return
        with transaction.atomic():
            # Read inside the transaction: axes counts the failures under the attempt's row lock just after.
            already_locked = self.is_locked(request, credentials)
            super().user_login_failed(sender, credentials, request=request, **kwargs)
            if getattr(request, "axes_locked_out", False) and not already_locked:
                account_lockout_record(
                    username=get_client_username(request, credentials) or "",
                    ip_address=getattr(request, "axes_ip_address", None),
                    failures=int(getattr(request, "axes_failures_since_start", 0) or 0),
                )
