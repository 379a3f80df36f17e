"""Single sign-on for the console: which account and role an OpenID Connect sign-in gives.

console/sso.py runs the protocol (Authlib's Django client: discovery, authorization
code with PKCE, state, nonce, ID token signature and claims). This module takes the
verified ID token claims and decides, from settings only:

- the account: the one linked to the provider's (iss, sub), created on first sign-in
  with the username claim, and never a local account of the same name (break-glass
  accounts stay out of the provider's reach);
- the role: the highest role any of the user's groups maps to
  (GATEWAY_CONSOLE_OIDC_ROLE_MAP); no mapped group, no sign-in, and a returning user
  who lost every mapped group loses the role too.
"""

import re
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts import roles
from accounts.models import SsoIdentity

# What a username may hold (Django's default validator's set), and its length.
_USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")
USERNAME_MAX_LENGTH = 150


@dataclass(frozen=True)
class SsoConfig:
    issuer: str
    discovery_url: str
    client_id: str
    client_secret: str
    scopes: str
    groups_claim: str
    username_claim: str
    provider_name: str
    redirect_uri: str
    role_map: dict[str, roles.Role] = field(default_factory=dict)


class SignInRefused(Exception):
    """The provider vouched for someone the console does not let in; `reason` is a code."""

    def __init__(self, reason: str, message: str, subject: str = ""):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.subject = subject


def config() -> SsoConfig | None:
    """The settings of single sign-on, or None when it is not configured."""
    issuer = settings.GATEWAY_CONSOLE_OIDC_ISSUER.rstrip("/")
    discovery = settings.GATEWAY_CONSOLE_OIDC_DISCOVERY_URL
    if not settings.GATEWAY_CONSOLE_OIDC_CLIENT_ID or not (issuer or discovery):
        return None
    return SsoConfig(
        issuer=issuer,
        discovery_url=discovery or f"{issuer}/.well-known/openid-configuration",
        client_id=settings.GATEWAY_CONSOLE_OIDC_CLIENT_ID,
        client_secret=settings.GATEWAY_CONSOLE_OIDC_CLIENT_SECRET,
        scopes=settings.GATEWAY_CONSOLE_OIDC_SCOPES,
        groups_claim=settings.GATEWAY_CONSOLE_OIDC_GROUPS_CLAIM,
        username_claim=settings.GATEWAY_CONSOLE_OIDC_USERNAME_CLAIM,
        provider_name=settings.GATEWAY_CONSOLE_OIDC_PROVIDER_NAME,
        redirect_uri=settings.GATEWAY_CONSOLE_OIDC_REDIRECT_URI,
        role_map={
            group: roles.Role(role)
            for group, role in settings.GATEWAY_CONSOLE_OIDC_ROLE_MAP.items()
        },
    )


def groups_of(claims: dict, groups_claim: str) -> list[str]:
    """The groups claim as a list of strings: a list, or one space/comma-separated string."""
    value = claims.get(groups_claim)
    if isinstance(value, str):
        value = re.split(r"[\s,]+", value)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str) and item][:500]


def role_for(groups: list[str], role_map: dict[str, roles.Role]) -> roles.Role | None:
    """The highest role any group maps to (roles are ordered viewer < operator < admin)."""
    order = list(roles.Role)
    mapped = [role_map[group] for group in groups if group in role_map]
    return max(mapped, key=order.index) if mapped else None


def _username(claims: dict, conf: SsoConfig) -> str:
    raw = claims.get(conf.username_claim) or claims.get("email") or claims["sub"]
    return _USERNAME_UNSAFE.sub("_", str(raw))[:USERNAME_MAX_LENGTH] or "sso-user"


def sign_in(claims: dict, conf: SsoConfig):
    """The account for these verified ID token claims, created or updated; or SignInRefused."""
    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or not isinstance(subject, str) or not subject:
        raise SignInRefused("invalid_claims", "The provider's answer names nobody.")
    username = _username(claims, conf)
    groups = groups_of(claims, conf.groups_claim)
    role = role_for(groups, conf.role_map)
    User = get_user_model()
    with transaction.atomic():
        identity = (
            SsoIdentity.objects.select_for_update()
            .select_related("user")
            .filter(issuer=issuer, subject=subject)
            .first()
        )
        if role is None:
            if identity is not None and roles.role_of(identity.user) is not None:
                roles.set_role(identity.user, None, actor="single sign-on")
            raise SignInRefused(
                "no_role",
                "Your account at the identity provider is in no group that gives a console "
                "role. Ask an administrator to add you to one.",
                subject=username,
            )
        if identity is None:
            if User.objects.filter(username=username).exists():
                # A local account, or another provider identity: never merged silently.
                raise SignInRefused(
                    "username_taken",
                    f"A console account named {username} already exists and is not linked "
                    "to this identity. Ask an administrator.",
                    subject=username,
                )
            user = User(username=username, is_staff=True)
            user.set_unusable_password()  # signs in through the provider only
            identity = SsoIdentity(issuer=issuer, subject=subject)
        else:
            user = identity.user
            if not user.is_active:
                raise SignInRefused(
                    "inactive", "This console account has been deactivated.", subject=username
                )
        user.email = str(claims.get("email") or "")[:254]
        name = str(claims.get("name") or "")
        user.first_name = name[:150]
        user.is_staff = True
        user.save()
        identity.user = user
        identity.groups = groups
        identity.last_sign_in_at = timezone.now()
        identity.save()
        if roles.role_of(user) != role:
            roles.set_role(user, role, actor="single sign-on")
    return user
