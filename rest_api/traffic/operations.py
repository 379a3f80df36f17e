"""The OpenAPI operations of the traffic-limit endpoints (rest_api/schema.py, OPERATIONS)."""

from rest_api.schema import _LIST, OPERATIONS, Operation

OPERATIONS.update(
    {
        ("LimitPolicyViewSet", "list"): Operation(
            "listLimitPolicies",
            "List APIs' traffic limits",
            "Each API's limits: the default rate and quotas per application, the rate of "
            "anonymous calls per client address, and what calls get while Redis is down. "
            "Filter by `api` or `when_redis_down`." + _LIST,
        ),
        ("LimitPolicyViewSet", "create"): Operation(
            "createLimitPolicy",
            "Limit an API's traffic",
            "Gives an API its limits (one policy per API). `rate` calls per `period` (1, 60 or "
            "3600 s) with `burst` calls at once; `quota_per_day` (UTC) and `quota_per_month` "
            "(UTC calendar month); null leaves a limit out. Every gateway worker applies "
            "the change within a second.",
        ),
        ("LimitPolicyViewSet", "retrieve"): Operation(
            "getLimitPolicy", "Get an API's traffic limits", "One API's limits."
        ),
        ("LimitPolicyViewSet", "partial_update"): Operation(
            "updateLimitPolicy",
            "Change an API's traffic limits",
            "Changes the fields given (PATCH); counts already made are kept.",
        ),
        ("LimitPolicyViewSet", "destroy"): Operation(
            "deleteLimitPolicy",
            "Remove an API's traffic limits",
            "The API's calls are no longer limited, except by applications' own limits.",
        ),
        ("ApplicationLimitViewSet", "list"): Operation(
            "listApplicationLimits",
            "List applications' own limits",
            "Overrides of APIs' defaults for one application, on one API or (`api` null) on "
            "every API with limits. Filter by `application` or `api`." + _LIST,
        ),
        ("ApplicationLimitViewSet", "create"): Operation(
            "createApplicationLimit",
            "Give an application its own limits",
            "A field left null keeps the API's default; a rate brings its own period and "
            "burst. One override per application and API, and one for every API.",
        ),
        ("ApplicationLimitViewSet", "retrieve"): Operation(
            "getApplicationLimit", "Get an application's own limits", "One override."
        ),
        ("ApplicationLimitViewSet", "partial_update"): Operation(
            "updateApplicationLimit",
            "Change an application's own limits",
            "Changes the fields given (PATCH).",
        ),
        ("ApplicationLimitViewSet", "destroy"): Operation(
            "deleteApplicationLimit",
            "Remove an application's own limits",
            "The application gets the APIs' defaults again.",
        ),
        ("ApplicationUsageView", "get"): Operation(
            "getApplicationUsage",
            "Get an application's usage of its limits",
            "Per limited API: the limits in effect, the calls it may make at once now, and "
            "its calls today and this month with what remains of its quotas, read from the "
            "shared counters (Redis). Without Redis each gateway process counts alone and "
            "the counts are null (`counters`: process).",
        ),
    }
)
