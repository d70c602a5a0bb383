"""API-wide behaviour: error bodies that always name the field or the reason."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, parsers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # Services raise Django's ValidationError and PermissionDenied; the API answers them as 400 / 403.
    if isinstance(exc, DjangoValidationError):
        detail: Any = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ObjectDoesNotExist):  # e.g. deleted between the view's lookup and the service's lock
        return Response({"detail": "Not found: it may have been deleted."}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        # Django raises these while the framework reads the body; unhandled they were its HTML 400 page.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
        return Response(
            {"detail": f"The request body is larger than the {limit / 1024 / 1024:g} MiB this server accepts."},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return drf_exception_handler(exc, context)


class JSONParser(parsers.JSONParser):
    """The framework's JSON parser, with a body nested too deeply to decode answered as a 400 rather than a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - the body is nested too deeply.") from None


@csrf_exempt  # it changes nothing; a refused CSRF check would answer the HTML 403 page instead
def not_found(request: HttpRequest) -> HttpResponse:
    """Any other path under /api/ (an id that is not a number, a route that does not exist): a JSON 404, as API
    clients read every other error, not the HTML page.

    This route matches every path under /api/, so Django's APPEND_SLASH never sees /api/docs: a path that is a
    route with its slash is redirected here (GET and HEAD; another method would lose its body, so it is told)."""
    if not request.path.endswith("/"):
        try:
            with_slash = resolve(request.path + "/").func is not not_found
        except Resolver404:
            with_slash = False
        if with_slash and request.method in ("GET", "HEAD"):
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
        if with_slash:
            return JsonResponse(
                {"detail": f"No such API route: the route is {request.path}/ (with the slash)."},
                status=status.HTTP_404_NOT_FOUND,
            )
    return JsonResponse({"detail": "No such API route."}, status=status.HTTP_404_NOT_FOUND)
