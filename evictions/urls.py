"""Page routes for eviction requests."""

from django.urls import path

from config import views as core_views

urlpatterns = [
    path("requests/", core_views.coming_soon, {"page": "Requests"}, name="requests"),
]
