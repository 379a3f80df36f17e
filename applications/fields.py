"""The fields of an application an admin edits in the console form and the REST API alike.

The status is changed by its own actions in the console (suspend, resume) and is a
plain field in the REST API, so it is not listed here.
"""

APPLICATION_FIELDS = ("name", "description", "identifying_claims", "custom_claims", "apis")
