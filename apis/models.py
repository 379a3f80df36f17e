from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from apis.choices import ApiKind, ApiStatus, HttpMethod, IdentitySource
from apis.paths import BasePaths, normalize_base_path, normalize_route_template, route_shape
from apis.validators import (
    validate_audience_list,
    validate_forward_claims,
    validate_header_name,
    validate_scope_list,
    validate_upstream_url,
)
from authservers.models import AuthorizationServer


def empty_list() -> list:
    return []


def empty_dict() -> dict:
    return {}


class Api(models.Model):
    """A backend published through the gateway under a base path."""

    name = models.CharField(max_length=100)
    version = models.CharField(max_length=50, blank=True)
    base_path = models.CharField(max_length=300, unique=True)
    upstream_url = models.CharField(max_length=500, validators=[validate_upstream_url])
    kind = models.CharField(max_length=4, choices=ApiKind.choices, default=ApiKind.REST)
    status = models.CharField(
        max_length=8, choices=ApiStatus.choices, default=ApiStatus.INACTIVE, editable=False
    )
    connect_timeout = models.FloatField(default=5.0)
    read_timeout = models.FloatField(default=30.0)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["base_path"]
        # Verbs beyond add/change/delete/view; accounts/roles.py says which role holds them.
        permissions = [
            ("activate_api", "Can activate and deactivate APIs"),
            ("inspect_token", "Can use the token inspector"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(connect_timeout__gt=0, read_timeout__gt=0),
                name="api_timeouts_positive",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()

    def clean(self) -> None:
        stored = BasePaths()
        for base_path, name, version in Api.objects.exclude(pk=self.pk).values_list(
            "base_path", "name", "version"
        ):
            stored.add(base_path, f"{name} {version}".strip())
        self.clean_with(stored)

    def clean_with(self, base_paths: BasePaths) -> None:
        """The API's rules, given the base paths of the other APIs (clean() reads them;
        a bulk create gives those of the database and of the file)."""
        errors = {}
        try:
            self.base_path = normalize_base_path(self.base_path)
        except ValidationError as exc:
            errors["base_path"] = exc.messages
        else:
            duplicate = base_paths.taken_by(self.base_path)
            overlap = None if duplicate is not None else base_paths.overlapping(self.base_path)
            if duplicate is not None:
                errors["base_path"] = [
                    ValidationError(
                        f"An API is already published at {self.base_path} ({duplicate}). "
                        "Choose another base path (e.g. a new version segment), or edit "
                        "that API instead.",
                        code="base_path_taken",
                    )
                ]
            elif overlap:
                errors["base_path"] = [
                    ValidationError(
                        f"Overlaps the base path {overlap} of another API; routing would be "
                        "ambiguous. Choose a base path that is not a prefix of, or prefixed "
                        "by, another API's.",
                        code="base_path_overlap",
                    )
                ]
        for field, upper in (("connect_timeout", 60), ("read_timeout", 600)):
            value = getattr(self, field)
            if value is not None and not (0 < value <= upper):
                errors[field] = [f"Must be between 0 and {upper} seconds."]
        if errors:
            raise ValidationError(errors)

    @property
    def gateway_path(self) -> str:
        """Where clients call this API on the public listener (GATEWAY_PREFIX + base path)."""
        return settings.GATEWAY_PREFIX + self.base_path

    @property
    def is_active(self) -> bool:
        return self.status == ApiStatus.ACTIVE


class Route(models.Model):
    """One method + path template of an API; scopes add to the policy's."""

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="routes")
    method = models.CharField(max_length=7, choices=HttpMethod.choices, default=HttpMethod.ANY)
    path = models.CharField(max_length=500)
    required_scopes = models.JSONField(
        default=empty_list, blank=True, validators=[validate_scope_list]
    )
    anonymous = models.BooleanField(default=False, help_text="Public route: no token needed.")

    class Meta:
        ordering = ["api", "path", "method"]
        constraints = [
            models.UniqueConstraint(fields=["api", "method", "path"], name="route_unique_per_api")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def clean(self) -> None:
        if self.api_id is None:
            self.clean_with((), None)
            return
        siblings = Route.objects.filter(api_id=self.api_id, method=self.method).exclude(pk=self.pk)
        policy = None
        if not self.anonymous:
            policy = IdentifyAndAuthorizePolicy.objects.filter(api_id=self.api_id).first()
        self.clean_with(siblings.values_list("path", flat=True), policy)

    def clean_with(
        self, siblings: Iterable[str], policy: "IdentifyAndAuthorizePolicy | None"
    ) -> None:
        """The route's rules, given the paths of its API's other routes of the same method
        and the API's policy (clean() reads them; a bulk create gives the file's)."""
        try:
            self.path = normalize_route_template(self.path)
        except ValidationError as exc:
            raise ValidationError({"path": exc.messages}) from None
        # /pets/{id} and /pets/{petId} match the same requests: one would silently shadow the other.
        shape = route_shape(self.path)
        for other in siblings:
            if route_shape(other) == shape:
                raise ValidationError(
                    {"path": [f"{self.method} {other} already matches the same requests."]}
                )
        # The policy may have no audience only while every call is anonymous.
        if (
            not self.anonymous
            and policy is not None
            and not policy.audiences
            and not policy.allow_anonymous
        ):
            raise ValidationError(
                {
                    "anonymous": [
                        ValidationError(
                            "The API's policy lists no audience, so a route that needs a "
                            "token cannot be checked. Add audiences to the policy first, "
                            "or keep this route public.",
                            code="audience_required",
                        )
                    ]
                }
            )


class IdentifyAndAuthorizePolicy(models.Model):
    """The "Identify and authorize application" policy of one API."""

    api = models.OneToOneField(Api, on_delete=models.CASCADE, related_name="policy")
    authorization_servers = models.ManyToManyField(
        AuthorizationServer, blank=True, related_name="policies"
    )
    identity_source = models.CharField(
        max_length=6, choices=IdentitySource.choices, default=IdentitySource.HEADER
    )
    identity_name = models.CharField(
        max_length=100,
        default="Authorization",
        validators=[validate_header_name],
        help_text="Header, query parameter or cookie carrying the token.",
    )
    audiences = models.JSONField(
        default=empty_list,
        blank=True,  # only for an API whose every call is anonymous (see clean())
        validators=[validate_audience_list],
        help_text="The token's aud must contain one of these.",
    )
    required_scopes = models.JSONField(
        default=empty_list, blank=True, validators=[validate_scope_list]
    )
    allow_anonymous = models.BooleanField(default=False)
    forward_claims = models.JSONField(
        default=empty_dict,
        blank=True,
        validators=[validate_forward_claims],
        help_text='Claims sent upstream as headers, e.g. {"sub": "X-User"}.',
    )
    forward_authorization = models.BooleanField(
        default=False, help_text="Pass the client's Authorization header to the upstream."
    )

    class Meta:
        verbose_name = "identify and authorize application policy"
        verbose_name_plural = "identify and authorize application policies"

    def __str__(self) -> str:
        return f"Policy of {self.api}"

    def clean(self) -> None:
        self.clean_with(None)

    def clean_with(self, routes: list | None) -> None:
        """The policy's rules, given its API's routes (None: read them)."""
        # Without an audience, no token could be checked against this API's aud: only an
        # API that never needs a token may go without. activation_problems() agrees.
        if not self.audiences and not self.is_fully_anonymous(routes):
            raise ValidationError(
                {
                    "audiences": [
                        ValidationError(
                            "Give at least one audience the tokens must carry. Only an API "
                            "whose every call is anonymous (allow anonymous calls, or only "
                            "public routes) may leave it empty.",
                            code="audience_required",
                        )
                    ]
                }
            )

    def is_fully_anonymous(self, routes: list | None = None) -> bool:
        """True when no call to the API needs a token: anonymous calls are allowed, or
        the API has routes and every one of them is public."""
        if self.allow_anonymous:
            return True
        if routes is None:
            if self.api_id is None:
                return False
            routes = list(Route.objects.filter(api_id=self.api_id).only("anonymous"))
        return bool(routes) and all(route.anonymous for route in routes)
