"""Forms for adding and editing clusters; validation is the services' (the same rules as the API)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from clusters.kubeconfig import MAX_KUBECONFIG_BYTES
from clusters.services import MAX_CONCURRENT_DRAINS, MAX_QPS, ConnectionInput, connection_from_input


class SecretTextarea(forms.Textarea):
    """A textarea that never sends its value back to the browser (a pasted kubeconfig holds credentials)."""

    def format_value(self, value: Any) -> None:
        return None


def add_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form fields it names (or on the form)."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


class ClusterForm(forms.Form):
    SOURCE_CHOICES = [("token", "API server URL and token"), ("kubeconfig", "kubeconfig")]

    name = forms.CharField(
        max_length=63,
        required=False,
        help_text="Lower-case letters, digits and hyphens. Left blank with a kubeconfig, the context name is used.",
    )
    source = forms.ChoiceField(choices=SOURCE_CHOICES, widget=forms.RadioSelect, initial="token")
    api_url = forms.CharField(label="API server URL", max_length=2048, required=False)
    ca_pem = forms.CharField(
        label="CA bundle (PEM)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Blank uses the system trust store.",
    )
    token = forms.CharField(
        label="Bearer token",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted and never shown again.",
    )
    kubeconfig = forms.CharField(
        required=False,
        widget=SecretTextarea(attrs={"rows": 6}),
        help_text="Paste it, or upload the file below. For your safety it is not shown again after an error.",
    )
    kubeconfig_file = forms.FileField(label="or upload a kubeconfig", required=False)
    context = forms.CharField(max_length=253, required=False, help_text="Blank uses current-context.")
    qps_limit = forms.IntegerField(label="API requests per second", min_value=1, max_value=MAX_QPS, initial=10)

    connection: ConnectionInput | None = None

    def clean_kubeconfig_file(self) -> str:
        upload = self.cleaned_data.get("kubeconfig_file")
        if not upload:
            return ""
        if upload.size > MAX_KUBECONFIG_BYTES:
            raise ValidationError(f"The file is larger than {MAX_KUBECONFIG_BYTES // 1024} KiB.")
        try:
            return upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("The file is not UTF-8 text.") from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            if data.get("source") == "kubeconfig":
                text = data.get("kubeconfig_file") or data.get("kubeconfig") or ""
                self.connection = connection_from_input(kubeconfig=text, context=data.get("context", ""))
            else:
                self.connection = connection_from_input(
                    api_url=data.get("api_url", ""), ca_pem=data.get("ca_pem", ""), token=data.get("token", "")
                )
        except ValidationError as error:
            add_errors(self, error)
        return data


class ClusterEditForm(forms.Form):
    name = forms.CharField(max_length=63)
    api_url = forms.CharField(label="API server URL", max_length=2048)
    ca_pem = forms.CharField(label="CA bundle (PEM)", required=False, widget=forms.Textarea(attrs={"rows": 4}))
    token = forms.CharField(
        label="New bearer token",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave blank to keep the stored credentials.",
    )
    qps_limit = forms.IntegerField(label="API requests per second", min_value=1, max_value=MAX_QPS)
    max_concurrent_drains = forms.IntegerField(
        label="Nodes drained at once",
        required=False,  # blank keeps the current value
        min_value=1,
        max_value=MAX_CONCURRENT_DRAINS,
        help_text="Further drains on this cluster wait in line, in the order they were submitted.",
    )
