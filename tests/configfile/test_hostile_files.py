"""Hostile and broken files: a clear list of problems with their places, nothing changed."""

import pytest

from configfile import loading
from configfile.apply import apply
from configfile.export import export_text
from configfile.problems import ConfigInvalid
from tests.configfile.conftest import applications_last, audit_count, version


def refused(text) -> list[str]:
    """Apply `text`; it must be refused with nothing changed. Returns the problems."""
    before, events, exported = version(), audit_count(), export_text()
    with pytest.raises(ConfigInvalid) as caught:
        apply(text)
    assert (version(), audit_count(), export_text()) == (before, events, exported)
    return [str(problem) for problem in caught.value.problems]


ALIAS_BOMB = """gatekeep: 1
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def test_an_alias_bomb_is_refused_before_anything_expands(gateway):
    assert refused(ALIAS_BOMB) == [
        "file (line 2): YAML anchors (&name) are not allowed in a configuration file."
    ]


def test_an_alias_alone_is_refused(gateway):
    problems = refused("gatekeep: 1\napis: *nothing\n")
    assert problems and "aliases" in problems[0]


def test_a_deeply_nested_file_is_refused_without_recursion(gateway):
    problems = refused("gatekeep: 1\napis: " + "[" * 20 + "]" * 20)
    assert problems == ["file (line 2): The file is nested deeper than 16 levels."]
    # libyaml stops far deeper nesting itself, before any value is built.
    problems = refused("gatekeep: 1\napis: " + "[" * 200_000 + "]" * 200_000)
    assert problems == ["file (line 2): Not valid YAML: exceeded maximum nesting depth."]


def test_a_huge_file_is_refused_before_parsing(gateway, monkeypatch):
    monkeypatch.setattr(loading, "MAX_BYTES", 1024 * 1024)
    problems = refused("gatekeep: 1\n# " + "x" * (2 * 1024 * 1024))
    assert problems == ["file: The file is larger than 1 MiB."]


def test_python_tags_are_refused(gateway):
    problems = refused("gatekeep: 1\napis: !!python/object/apply:os.system ['true']\n")
    assert "Explicit YAML tags" in problems[0]


def test_a_key_given_twice_is_refused(gateway):
    problems = refused("gatekeep: 1\napis: []\napis: []\n")
    assert problems == ["file (line 3): The key 'apis' appears twice in the same mapping."]


def test_not_yaml_and_not_utf8_are_clear_errors(gateway):
    assert "Not valid YAML" in refused("gatekeep: 1\napis: [\n")[0]
    assert "not UTF-8" in refused(b"gatekeep: 1\n\xff\xfe")[0]


def test_wrong_types_and_unknown_keys_are_all_reported_with_their_place(gateway):
    problems = refused(
        """gatekeep: 1
apis:
- base_path: /shop0/v1
  name: 7
  upstream_url: http://127.0.0.1:9000/shop
  connect_timeout: "fast"
  colour: blue
  routes:
  - {method: FETCH, path: /x}
  - {path: /y, anonymous: "yes"}
applications:
- name: client-0000
  identifying_claims: [client_id]
  client_secret: plain-text-secret
"""
    )
    assert problems == [
        "apis[/shop0/v1].colour (line 7): Unknown key; the keys are base_path, "
        "connect_timeout, description, kind, name, policy, read_timeout, routes, status, "
        "upstream_url, version.",
        "apis[/shop0/v1].name (line 4): Expected a string, got a number.",
        "apis[/shop0/v1].connect_timeout (line 6): Expected a number, got a string.",
        "apis[/shop0/v1].routes[FETCH /x].method (line 9): 'FETCH' is not one of ANY, GET, "
        "POST, PUT, PATCH, DELETE, HEAD, OPTIONS.",
        "apis[/shop0/v1].routes[ANY /y].anonymous (line 10): Expected a boolean, got a string.",
        "applications[client-0000].identifying_claims (line 13): Expected a mapping of names "
        "to strings.",
        "applications[client-0000].client_secret (line 14): A secret is never written in "
        "clear: give {env: NAME}, {file: path} or {hash: ...} (or leave it out to have one "
        "generated).",
    ]


# "BILLING" in fullwidth letters: the same name once in Unicode compatibility form.
FULLWIDTH_BILLING = "\uff22\uff29\uff2c\uff2c\uff29\uff2e\uff27"


def test_names_that_collide_once_normalised_are_refused(gateway):
    problems = refused(
        f"""gatekeep: 1
apis:
- {{base_path: /pets/v1, name: Pets, upstream_url: "http://127.0.0.1:9000"}}
- {{base_path: "pets/v1/", name: Pets again, upstream_url: "http://127.0.0.1:9000"}}
- base_path: /toys/v1
  name: Toys
  upstream_url: http://127.0.0.1:9000
  routes:
  - {{method: GET, path: "/toys/{{id}}"}}
  - {{method: GET, path: "/toys/{{toyId}}/"}}
applications:
- {{name: Billing}}
- {{name: "billing "}}
- {{name: "{FULLWIDTH_BILLING}"}}
"""
    )
    assert problems == [
        "apis[pets/v1/]: Item #2: '/pets/v1' is the same as '/pets/v1' once normalised; "
        "each API must be named once.",
        "apis[/toys/v1].routes[GET /toys/{toyId}/]: Matches the same requests as GET "
        "/toys/{id} (route #2); give each method and path once.",
        "applications[billing ]: Item #2: 'billing ' collides with 'Billing' once normalised; "
        "each application must be named once.",
        f"applications[{FULLWIDTH_BILLING}]: Item #3: '{FULLWIDTH_BILLING}' collides with "
        "'Billing' once normalised; each application must be named once.",
    ]


def test_model_rules_are_reported_per_resource_and_nothing_is_kept(gateway):
    text = applications_last()
    text = text.replace("upstream_url: http://127.0.0.1:9000/shop\n", "upstream_url: ftp://x\n", 1)
    text += "- {name: new-app, apis: [/nowhere/v1]}\n"
    problems = refused(text)
    assert problems == [
        "applications[new-app].apis: No API with the base path '/nowhere/v1' in the file or "
        "the gateway."
    ]
    text = text.rsplit("- {name: new-app", 1)[0] + "- {name: new-app}\n"
    problems = refused(text)
    assert problems == [
        "apis[/shop0/v1].upstream_url: The upstream must be an absolute http:// or https:// URL."
    ]


def test_a_file_that_activates_an_incomplete_api_runs_the_activation_checks(gateway):
    problems = refused(
        """gatekeep: 1
apis:
- {base_path: /bare/v1, name: Bare, upstream_url: "http://127.0.0.1:9000", status: active}
"""
    )
    assert problems == [
        "apis[/bare/v1].status: Cannot be active: The API has no routes.",
        'apis[/bare/v1].status: Cannot be active: Attach the "Identify and authorize '
        'application" policy.',
    ]


def test_an_unknown_server_in_a_policy_is_named(gateway):
    problems = refused(
        """gatekeep: 1
apis:
- base_path: /x/v1
  name: X
  upstream_url: http://127.0.0.1:9000
  policy: {authorization_servers: [nobody], audiences: [x]}
"""
    )
    assert problems == [
        "apis[/x/v1].policy.authorization_servers: No authorization server named 'nobody' in "
        "the file or the gateway."
    ]


def test_the_format_version_is_required(gateway):
    assert refused("apis: []\n") == ["file: The key 'gatekeep' is required."]
    assert refused("gatekeep: 2\n") == ["gatekeep (line 1): 2 is not one of 1."]
    assert refused("- just a list\n") == ["file: Expected a mapping, got a list."]


def test_an_active_api_losing_its_routes_fails_its_activation_checks(gateway):
    text = export_text()
    head, rest = text.split("- base_path: /shop0/v1\n", 1)
    api, after = rest.split("  routes:\n", 1)
    after = after[after.index("- base_path: /shop1/v1") :]
    problems = refused(head + "- base_path: /shop0/v1\n" + api + "  routes: []\n" + after)
    assert problems == ["apis[/shop0/v1].status: Cannot be active: The API has no routes."]
