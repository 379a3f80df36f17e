"""The policy chain of an API: one small model per policy type (docs/policies.md).

Each model's clean() is the one home of its rules; the proxy compiles the rows into
its in-memory config (policies/snapshot.py → proxy/stages/). Every write goes
through policies/services.py (core/changes.py).
"""

import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models

from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.validators import validate_upstream_url
from applications.models import Application
from policies.choices import BalancingAlgorithm, TransformOperation, TransformTarget, ValueSource
from policies.validators import (
    is_protected_header,
    validate_constant,
    validate_header_name,
    validate_header_name_list,
    validate_media_type_list,
    validate_method_list,
    validate_network_list,
    validate_origin_list,
    validate_query_name,
)

_VALUE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


def empty_list() -> list:
    return []


def default_cors_methods() -> list:
    return ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def default_cors_headers() -> list:
    return ["Authorization", "Content-Type"]


class CorsPolicy(models.Model):
    """Cross-origin calls from browsers: which origins may call the API, and how."""

    api = models.OneToOneField(Api, on_delete=models.CASCADE, related_name="cors_policy")
    allowed_origins = models.JSONField(
        default=empty_list,
        validators=[validate_origin_list],
        help_text='Exact origins ("https://app.example.com"), subdomain patterns '
        '("https://*.example.com"), or "*" for any origin (not with credentials).',
    )
    allowed_methods = models.JSONField(
        default=default_cors_methods, validators=[validate_method_list]
    )
    allowed_headers = models.JSONField(
        default=default_cors_headers,
        blank=True,
        validators=[validate_header_name_list],
        help_text="Request headers a page may send (Authorization for bearer tokens).",
    )
    exposed_headers = models.JSONField(
        default=empty_list,
        blank=True,
        validators=[validate_header_name_list],
        help_text="Response headers a page may read beyond the CORS-safelisted ones.",
    )
    allow_credentials = models.BooleanField(
        default=False, help_text="Let pages send cookies and read responses to them."
    )
    max_age_seconds = models.PositiveIntegerField(
        default=600, help_text="How long browsers may cache a preflight answer (at most 86400)."
    )

    class Meta:
        verbose_name = "CORS policy"
        verbose_name_plural = "CORS policies"

    def __str__(self) -> str:
        return f"CORS of {self.api}"

    def clean(self) -> None:
        errors = {}
        if not self.allowed_origins:
            errors["allowed_origins"] = ["Allow at least one origin."]
        elif "*" in self.allowed_origins:
            if len(self.allowed_origins) > 1:
                errors["allowed_origins"] = ['"*" allows every origin: list it alone.']
            elif self.allow_credentials:
                errors["allow_credentials"] = [
                    'Credentials cannot be allowed for every origin ("*"): any site could '
                    "call the API with the user's cookies. List the origins instead."
                ]
        if not self.allowed_methods:
            errors["allowed_methods"] = ["Allow at least one method."]
        if self.max_age_seconds is not None and self.max_age_seconds > 86400:
            errors["max_age_seconds"] = ["At most 86400 seconds (browsers cap it lower)."]
        if errors:
            raise ValidationError(errors)


class ClientAddressPolicy(models.Model):
    """Allow and deny lists of client addresses, for an API or for an application.

    The client address is the peer, or the nearest hop that a trusted proxy
    (GATEWAY_TRUSTED_PROXIES) names in X-Forwarded-For (core/client_address.py).
    Deny wins; a non-empty allow list admits only its networks.
    """

    api = models.OneToOneField(
        Api, null=True, blank=True, on_delete=models.CASCADE, related_name="client_addresses"
    )
    application = models.OneToOneField(
        Application,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="client_addresses",
    )
    allow = models.JSONField(
        default=empty_list,
        blank=True,
        validators=[validate_network_list],
        help_text="Addresses or CIDR networks (IPv4/IPv6); empty admits every address.",
    )
    deny = models.JSONField(default=empty_list, blank=True, validators=[validate_network_list])

    class Meta:
        verbose_name = "client address policy"
        verbose_name_plural = "client address policies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(api__isnull=False, application__isnull=True)
                | models.Q(api__isnull=True, application__isnull=False),
                name="client_addresses_of_api_or_application",
            )
        ]

    def __str__(self) -> str:
        return f"Client addresses of {self.api or self.application}"

    def clean(self) -> None:
        if (self.api_id is None) == (self.application_id is None):
            raise ValidationError("A client address policy belongs to an API or an application.")
        if not self.allow and not self.deny:
            raise ValidationError({"allow": ["List addresses to allow or to deny."]})


class RequestLimits(models.Model):
    """Limits a request must meet before the upstream is contacted (413, 415, 431)."""

    api = models.OneToOneField(Api, on_delete=models.CASCADE, related_name="request_limits")
    max_body_bytes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Largest request body; empty: no limit."
    )
    max_header_count = models.PositiveSmallIntegerField(null=True, blank=True)
    max_header_bytes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Largest sum of header names and values."
    )
    allowed_content_types = models.JSONField(
        default=empty_list,
        blank=True,
        validators=[validate_media_type_list],
        help_text='Media types a request body may have ("application/json", "text/*"); empty: any.',
    )

    class Meta:
        verbose_name = "request limits"
        verbose_name_plural = "request limits"

    def __str__(self) -> str:
        return f"Request limits of {self.api}"

    def clean(self) -> None:
        if (
            self.max_body_bytes is None
            and self.max_header_count is None
            and self.max_header_bytes is None
            and not self.allowed_content_types
        ):
            raise ValidationError("Set at least one limit.")
        if self.max_header_count is not None and self.max_header_count < 1:
            raise ValidationError({"max_header_count": ["At least 1."]})
        if self.max_header_bytes is not None and self.max_header_bytes < 64:
            raise ValidationError({"max_header_bytes": ["At least 64 bytes."]})
        if self.max_body_bytes is not None and self.max_body_bytes > 1024**3:
            raise ValidationError({"max_body_bytes": ["At most 1 GiB."]})


class Transformation(models.Model):
    """One change to the request or response on its way through: add, set, rename or
    remove a header or query parameter, for every route of the API or for one route."""

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="transformations")
    route = models.ForeignKey(
        Route,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="transformations",
        help_text="Only calls matching this route; empty: every call to the API.",
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Applied in this order.")
    target = models.CharField(max_length=15, choices=TransformTarget.choices)
    operation = models.CharField(max_length=6, choices=TransformOperation.choices)
    name = models.CharField(max_length=100)
    new_name = models.CharField(max_length=100, blank=True, help_text="For rename.")
    source = models.CharField(
        max_length=11, choices=ValueSource.choices, default=ValueSource.CONSTANT, blank=True
    )
    value = models.CharField(
        max_length=1024,
        blank=True,
        help_text="The constant, the claim name, the path parameter name, or for the "
        'application "name" or "id".',
    )

    class Meta:
        ordering = ["api", "position", "id"]

    def __str__(self) -> str:
        return f"{self.operation} {self.target} {self.name}"

    def clean(self) -> None:
        errors: dict[str, list] = {}
        is_query = self.target == TransformTarget.QUERY_PARAM
        response = self.target == TransformTarget.RESPONSE_HEADER
        names = [("name", self.name)]
        if self.operation == TransformOperation.RENAME:
            if not self.new_name:
                errors["new_name"] = ["Give the new name."]
            else:
                names.append(("new_name", self.new_name))
        for field, name in names:
            try:
                (validate_query_name if is_query else validate_header_name)(name)
            except ValidationError as exc:
                errors[field] = exc.messages
                continue
            if not is_query and (
                is_protected_header(name, response)
                or (not response and name.lower() in self._policy_headers())
            ):
                errors[field] = [
                    ValidationError(
                        f"{name} is set or removed by the gateway for security; a "
                        "transformation cannot change it.",
                        code="protected_header",
                    )
                ]
        if self.operation in (TransformOperation.ADD, TransformOperation.SET):
            errors.update(self._value_errors())
        if self.route_id is not None and self.api_id is not None:
            route = Route.objects.filter(pk=self.route_id).first()
            if route is None or route.api_id != self.api_id:
                errors["route"] = ["Choose a route of this API."]
            elif self.source == ValueSource.PATH_PARAM and "{" + self.value not in route.path:
                errors["value"] = [f"The route {route.path} has no parameter {self.value!r}."]
        if errors:
            raise ValidationError(errors)

    def _policy_headers(self) -> set[str]:
        """The API's claim headers and token header: only its access policy writes them."""
        policy = IdentifyAndAuthorizePolicy.objects.filter(api_id=self.api_id).first()
        if policy is None:
            return set()
        names = {header.lower() for header in policy.forward_claims.values()}
        if policy.identity_source == "header" and not policy.forward_authorization:
            names.add(policy.identity_name.lower())
        return names

    def _value_errors(self) -> dict:
        if self.source == ValueSource.CONSTANT:
            try:
                validate_constant(self.value)
            except ValidationError as exc:
                return {"value": exc.messages}
        elif self.source == ValueSource.APPLICATION:
            if self.value not in ("name", "id"):
                return {"value": ['For the application, use "name" or "id".']}
        elif self.source in (ValueSource.CLAIM, ValueSource.PATH_PARAM):
            if not _VALUE_NAME.match(self.value or ""):
                return {"value": ["Give the claim or path parameter name."]}
        else:
            return {"source": ["Choose where the value comes from."]}
        return {}


class UpstreamTarget(models.Model):
    """One backend instance of an API. With targets, calls are balanced over them
    (scheme://host:port); the API's upstream URL still gives the path prefix."""

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="upstream_targets")
    url = models.CharField(max_length=300, validators=[validate_upstream_url])
    weight = models.PositiveSmallIntegerField(default=1, help_text="1-100: a share of the calls.")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["api", "id"]
        constraints = [
            models.UniqueConstraint(fields=["api", "url"], name="upstream_target_unique_per_api")
        ]

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        parts = urlsplit(self.url or "")
        if parts.path not in ("", "/"):
            raise ValidationError(
                {
                    "url": [
                        "A target is an origin (scheme://host:port); the API's upstream URL "
                        "gives the path."
                    ]
                }
            )
        self.url = self.url.rstrip("/")
        if self.weight is not None and not 1 <= self.weight <= 100:
            raise ValidationError({"weight": ["Between 1 and 100."]})


class LoadBalancing(models.Model):
    """How calls are spread over an API's targets, and how unhealthy ones are found."""

    api = models.OneToOneField(Api, on_delete=models.CASCADE, related_name="load_balancing")
    algorithm = models.CharField(
        max_length=17, choices=BalancingAlgorithm.choices, default=BalancingAlgorithm.ROUND_ROBIN
    )
    health_check_path = models.CharField(
        max_length=300, blank=True, help_text="e.g. /healthz; empty: no active checks."
    )
    health_check_interval = models.FloatField(default=5.0, help_text="Seconds between checks.")
    health_check_timeout = models.FloatField(default=2.0)
    healthy_threshold = models.PositiveSmallIntegerField(
        default=2, help_text="Consecutive good checks that bring a target back."
    )
    unhealthy_threshold = models.PositiveSmallIntegerField(
        default=2, help_text="Consecutive failed checks that take a target out."
    )
    passive_failures = models.PositiveSmallIntegerField(
        default=3,
        help_text="Consecutive connection errors or 5xx answers that eject a target; 0: never.",
    )
    ejection_seconds = models.FloatField(
        default=30.0,
        help_text="Without active checks, an ejected target is tried again after this long.",
    )
    retry = models.BooleanField(
        default=True,
        help_text="Retry an idempotent call once on another target when the connection "
        "failed before any byte was sent.",
    )

    class Meta:
        verbose_name = "load balancing"
        verbose_name_plural = "load balancing"

    def __str__(self) -> str:
        return f"Load balancing of {self.api}"

    def clean(self) -> None:
        errors = {}
        if self.health_check_path and not self.health_check_path.startswith("/"):
            errors["health_check_path"] = ["Start the path with /."]
        elif self.health_check_path and not validate_path_chars(self.health_check_path):
            errors["health_check_path"] = ["Use printable ASCII without spaces."]
        bounds = (
            ("health_check_interval", 0.2, 3600),
            ("health_check_timeout", 0.1, 60),
            ("ejection_seconds", 0.5, 3600),
        )
        for field, low, high in bounds:
            value = getattr(self, field)
            if value is not None and not low <= value <= high:
                errors[field] = [f"Between {low} and {high} seconds."]
        for field in ("healthy_threshold", "unhealthy_threshold"):
            value = getattr(self, field)
            if value is not None and not 1 <= value <= 100:
                errors[field] = ["Between 1 and 100."]
        if errors:
            raise ValidationError(errors)


def validate_path_chars(path: str) -> bool:
    return all(0x21 <= ord(char) <= 0x7E for char in path)
