"""The admin API reads JSON only, and a body it cannot read is always a 400."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # json raises RecursionError, not ValueError, for deeply nested input.
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
