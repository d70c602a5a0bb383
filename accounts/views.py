"""The account page: who I am, my roles, and my API token."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.authtoken.models import Token

from accounts.permissions import user_roles
from accounts.services import api_token_regenerate


@login_required
def account(request: HttpRequest) -> HttpResponse:
    assert request.user.is_authenticated  # login_required; narrows the type
    new_token = api_token_regenerate(actor=request.user) if request.method == "POST" else None
    has_token = Token.objects.filter(user=request.user).exists()
    return render(
        request,
        "accounts/account.html",
        {"roles": user_roles(request.user), "new_token": new_token, "has_token": has_token},
    )
