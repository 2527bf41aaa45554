"""People, their roles in organisations, and their API tokens."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from greenisle.accounts.choices import Role
from greenisle.core.models import TimeStampedModel


class User(AbstractUser):
    """A person. What they may see and do comes from their memberships."""

    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def current_membership(self) -> Membership | None:
        """The membership the person acts in now (set per request by the middleware)."""
        cached: Membership | None | bool = getattr(self, "_current_membership", False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        membership = self.memberships.select_related("organization").order_by("created_at", "pk").first()
        self._current_membership = membership
        return membership

    def set_current_membership(self, membership: Membership | None) -> None:
        self._current_membership = membership


class Membership(TimeStampedModel):
    """A person's role in one organisation. One person may hold several."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)

    class Meta:
        ordering = ["user", "organization"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization", "role"], name="uniq_membership_role"),
        ]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} · {self.organization} · {self.get_role_display()}"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class ApiToken(TimeStampedModel):
    """A personal API token (``Authorization: Bearer …``), bound to one membership. Only its hash is kept."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=8)
    token_hash = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, *, membership: Membership, name: str) -> tuple[ApiToken, str]:
        raw = "gi_" + secrets.token_urlsafe(32)
        token = cls.objects.create(
            membership=membership, name=name, prefix=raw[:8], token_hash=hash_token(raw)
        )
        return token, raw


def user_for_token(raw: str) -> Any:
    token = (
        ApiToken.objects.select_related("membership__user", "membership__organization")
        .filter(token_hash=hash_token(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.membership.user.is_active:
        return None
    user = token.membership.user
    user.set_current_membership(token.membership)
    return user
