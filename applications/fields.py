"""The fields of an application an admin edits in the console form and the REST API alike.

The status is changed by its own actions in the console (suspend, resume) and is a
plain field in the REST API, so it is not listed here.
"""

# The application's OAuth2 settings for the internal issuer (issue 20).
OAUTH_FIELDS = ("client_type", "grant_types", "redirect_uris", "allowed_scopes")

APPLICATION_FIELDS = (
    "name",
    "description",
    "identifying_claims",
    "custom_claims",
    "apis",
    *OAUTH_FIELDS,
)
