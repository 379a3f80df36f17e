"""The fields an admin edits, per resource: the console's forms and the REST serializers both
list these, so a field added here is editable on both planes (apis/models.py defines them)."""

API_FIELDS = (
    "name",
    "version",
    "base_path",
    "upstream_url",
    "kind",
    "connect_timeout",
    "read_timeout",
    "description",
)
ROUTE_FIELDS = ("method", "path", "required_scopes", "anonymous")
POLICY_FIELDS = (
    "authorization_servers",
    "identity_source",
    "identity_name",
    "audiences",
    "required_scopes",
    "allow_anonymous",
    "forward_claims",
    "forward_authorization",
)
