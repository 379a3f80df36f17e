from django.db import models


class ApiKind(models.TextChoices):
    REST = "REST", "REST"
    SOAP = "SOAP", "SOAP"


class ApiStatus(models.TextChoices):
    INACTIVE = "inactive", "Inactive"
    ACTIVE = "active", "Active"


class HttpMethod(models.TextChoices):
    ANY = "ANY", "Any method"
    GET = "GET", "GET"
    POST = "POST", "POST"
    PUT = "PUT", "PUT"
    PATCH = "PATCH", "PATCH"
    DELETE = "DELETE", "DELETE"
    HEAD = "HEAD", "HEAD"
    OPTIONS = "OPTIONS", "OPTIONS"


# The methods a call can have: what a route's ANY stands for, and what the inspector offers.
CALL_METHODS = tuple(method for method in HttpMethod.values if method != HttpMethod.ANY)


class IdentitySource(models.TextChoices):
    HEADER = "header", "HTTP header"
    QUERY = "query", "Query parameter"
    COOKIE = "cookie", "Cookie"
