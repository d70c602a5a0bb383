"""REST API for eviction requests and pod evictions."""

from __future__ import annotations

from rest_framework.routers import DefaultRouter


def register(router: DefaultRouter) -> None:
    """Add this app's viewsets to the /api/v1/ router."""
