"""Notification pages, included under /notifications/."""

from django.urls import path

from notifications import views

urlpatterns = [
    path("", views.notification_index, name="notifications"),
    path("add/", views.endpoint_add, name="notification-add"),
    path("<id:pk>/edit/", views.endpoint_edit, name="notification-edit"),
    path("<id:pk>/delete/", views.endpoint_delete, name="notification-delete"),
    path("deliveries/", views.delivery_index, name="notification-deliveries"),
]
