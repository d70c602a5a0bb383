"""Forms for notification endpoints and the delivery log filters; validation is the services' (as in the API)."""

from __future__ import annotations

from django import forms

from clusters.models import Cluster
from core.ids import IdModelChoiceField
from core.urlguard import MAX_URL_LENGTH
from notifications.events import Event
from notifications.models import DeliveryStatus, EndpointKind, NotificationEndpoint
from notifications.validation import MAX_BLOCKED_AFTER_MINUTES


class EndpointForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=EndpointKind.choices, widget=forms.RadioSelect, initial=EndpointKind.WEBHOOK)
    cluster = IdModelChoiceField(
        queryset=Cluster.objects.order_by("name"),
        required=False,
        empty_label="All clusters",
        help_text="Only this cluster's requests, or every cluster's.",
    )
    url = forms.CharField(
        label="Webhook URL",
        max_length=MAX_URL_LENGTH,
        required=False,
        # Never sent back to the browser: a webhook URL is a secret.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Webhooks: Slack-compatible JSON is POSTed here. Stored encrypted and never shown again.",
    )
    emails = forms.CharField(
        label="E-mail addresses",
        max_length=2000,
        required=False,
        help_text="E-mail endpoints: addresses separated by commas.",
    )
    events = forms.MultipleChoiceField(choices=Event.choices, widget=forms.CheckboxSelectMultiple)
    blocked_after_minutes = forms.IntegerField(
        label="Blocked after (minutes)",
        min_value=1,
        max_value=MAX_BLOCKED_AFTER_MINUTES,
        initial=10,
        help_text="'Pod blocked too long' is sent once per request when a pod has been blocked this long.",
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args: object, endpoint: NotificationEndpoint | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if endpoint is not None and endpoint.kind == EndpointKind.WEBHOOK:
            self.fields["url"].help_text = "Leave blank to keep the stored URL (it is never shown)."


class DeliveryFilterForm(forms.Form):
    endpoint = IdModelChoiceField(
        queryset=NotificationEndpoint.objects.defer("url_secret").order_by("name"),
        required=False,
        empty_label="Any endpoint",
    )
    status = forms.ChoiceField(choices=[("", "Any status"), *DeliveryStatus.choices], required=False)
