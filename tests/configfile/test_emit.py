"""The exporter's YAML reads back as exactly what was written, by our reader and PyYAML."""

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from configfile.emit import dump
from configfile.loading import load

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    # Lone surrogates cannot be stored (the database and the REST API refuse them).
    | st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
    | st.sampled_from(["yes", "No", "~", "null", "1.0", "0x1F", "1:20", "- x", "a: b", "#x"])
)
keys = st.from_regex(r"[a-z_]{1,10}", fullmatch=True)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(scalars | st.dictionaries(keys, inner, max_size=4), max_size=4)
        | st.dictionaries(keys, inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, values, max_size=6))
def test_what_is_written_reads_back_equal(document):
    text = dump(document)
    assert load(text).data == document
    assert yaml.safe_load(text) == (document or None)


def test_strings_stay_plain_where_yaml_reads_them_back_as_text():
    assert dump({"u": "http://127.0.0.1:9000/x", "p": "/pets/{id}", "v": "v1"}) == (
        "u: http://127.0.0.1:9000/x\np: /pets/{id}\nv: v1\n"
    )
    assert dump({"a": "yes", "b": "1.0", "c": "a: b", "d": "line\nbreak"}) == (
        'a: "yes"\nb: "1.0"\nc: "a: b"\nd: "line\\nbreak"\n'
    )
