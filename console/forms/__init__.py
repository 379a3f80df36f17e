"""Console forms, one module per resource: they only turn HTML inputs into values.

The rules stay in Model.clean() and the services, which report through
ValidationError (see common.apply_errors). The editable fields of each resource
are listed once beside its model (apis.fields, applications.fields,
authservers.fields) and shared with the REST serializers.
"""

from console.forms.apis import (
    ApiFilterForm,
    ApiForm,
    AssociateApplicationForm,
    OpenApiImportForm,
    PolicyForm,
    RouteForm,
)
from console.forms.applications import ApplicationForm, TestTokenForm
from console.forms.audit import AuditFilterForm
from console.forms.base import ConsoleModelForm, KeyValueField, KeyValueWidget, WordListField
from console.forms.inspector import InspectorForm
from console.forms.servers import ServerForm

__all__ = [
    "ApiFilterForm",
    "ApiForm",
    "ApplicationForm",
    "AssociateApplicationForm",
    "AuditFilterForm",
    "ConsoleModelForm",
    "InspectorForm",
    "KeyValueField",
    "KeyValueWidget",
    "OpenApiImportForm",
    "PolicyForm",
    "RouteForm",
    "ServerForm",
    "TestTokenForm",
    "WordListField",
]
