"""Values ending in a newline: a regular expression's "$" lets one through, "\\Z" does not."""

import pytest
from django.core.exceptions import ValidationError

from policies.validators import (
    validate_constant,
    validate_header_name,
    validate_origin_list,
    validate_query_name,
)


@pytest.mark.parametrize(
    ("validate", "value"),
    [
        (validate_header_name, "x-tenant\n"),
        (validate_query_name, "page\n"),
        (validate_constant, "gold\n"),
        (validate_origin_list, ["https://app.example\n"]),
        (validate_origin_list, ["https://*.example.com\n"]),
    ],
)
def test_a_trailing_newline_is_refused(validate, value):
    with pytest.raises(ValidationError):
        validate(value)
    validate(value.rstrip("\n") if isinstance(value, str) else [value[0].rstrip("\n")])
