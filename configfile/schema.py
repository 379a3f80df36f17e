"""The published JSON Schema of the file format (docs/gatekeep-config.schema.json).

Generated from the same declarations the reader checks files with (configfile/spec.py and
each kind's `spec`), so the two cannot disagree; `manage.py gatekeep_config schema`
prints it and tests/configfile/test_schema.py keeps the published copy current.
"""

import json

from configfile.plan import document_spec
from configfile.spec import object_schema

SCHEMA_ID = "https://gatekeep.invalid/schemas/gatekeep-config.schema.json"


def json_schema() -> dict:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Gatekeep configuration file",
        **object_schema(document_spec()),
    }
    schema["$defs"] = {
        "secretReference": {
            "description": "A secret is never written in clear: a reference to it.",
            "oneOf": [
                _reference("env", "An environment variable of the machine running the command."),
                _reference("file", "A file, relative to the configuration file."),
                _reference("hash", "A stored password hash (export --secret-hashes)."),
            ],
        }
    }
    return schema


def _reference(key: str, description: str) -> dict:
    return {
        "type": "object",
        "description": description,
        "properties": {key: {"type": "string", "minLength": 1}},
        "required": [key],
        "additionalProperties": False,
    }


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
