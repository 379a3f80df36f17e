from django.db import models


class TransformTarget(models.TextChoices):
    REQUEST_HEADER = "request_header", "Request header"
    RESPONSE_HEADER = "response_header", "Response header"
    QUERY_PARAM = "query_param", "Query parameter"


class TransformOperation(models.TextChoices):
    ADD = "add", "Add (keep existing values)"
    SET = "set", "Set (replace existing values)"
    RENAME = "rename", "Rename"
    REMOVE = "remove", "Remove"


class ValueSource(models.TextChoices):
    CONSTANT = "constant", "Constant text"
    CLAIM = "claim", "Token claim"
    APPLICATION = "application", "Application (name or id)"
    PATH_PARAM = "path_param", "Path parameter of the route"


class BalancingAlgorithm(models.TextChoices):
    ROUND_ROBIN = "round_robin", "Weighted round robin"
    LEAST_CONNECTIONS = "least_connections", "Least connections (weighted)"
