"""Hostile values for policy chains and limits: every problem named with its place in the
file, and nothing changed (chains.refused checks the version, the audit trail, the export
and the row counts)."""

import pytest

from configfile.export import export_text
from tests.configfile.chains import build_chains, refused


@pytest.fixture
def chains(db):
    build_chains()


def test_wrong_types_and_unknown_keys_are_reported_with_their_line(chains):
    problems = refused(
        """gatekeep: 1
policy_chains:
- api: /shop0/v1
  cors: {allowed_origins: "https://a.example", colour: red}
  upstream_targets: [{url: "http://10.0.0.1:80", weight: heavy}]
  transformations: [{target: request_header, operation: set, name: X-A, value: 7}]
  load_balancing: {health_check_interval: "5s", retry: 1}
traffic_limits:
- {api: /shop0/v1, rate: 1.5, period: fortnight}
- {api: /shop1/v1, burst: true}
application_limits:
- {application: client-0000, rate: "10"}
application_client_addresses:
- {application: client-0000, allow: 10.0.0.0/8}
"""
    )
    assert problems == [
        "policy_chains[/shop0/v1].cors.colour (line 4): Unknown key; the keys are "
        "allow_credentials, allowed_headers, allowed_methods, allowed_origins, "
        "exposed_headers, max_age_seconds.",
        "policy_chains[/shop0/v1].cors.allowed_origins (line 4): Expected a list of strings.",
        "policy_chains[/shop0/v1].transformations[#1].value (line 6): Expected a string, got a "
        "number.",
        "policy_chains[/shop0/v1].upstream_targets[http://10.0.0.1:80].weight (line 5): "
        "Expected an integer, got a string.",
        "policy_chains[/shop0/v1].load_balancing.health_check_interval (line 7): Expected a "
        "number, got a string.",
        "policy_chains[/shop0/v1].load_balancing.retry (line 7): Expected a boolean, got a number.",
        "traffic_limits[/shop0/v1].rate (line 9): Expected an integer, got a number.",
        "traffic_limits[/shop0/v1].period (line 9): 'fortnight' is not one of second, minute, "
        "hour.",
        "traffic_limits[/shop1/v1].burst (line 10): Expected an integer, got a boolean.",
        "application_limits[client-0000 on every API].rate (line 12): Expected an integer, got "
        "a string.",
        "application_client_addresses[client-0000].allow (line 14): Expected a list of strings.",
    ]


def test_out_of_range_numbers_are_refused_by_each_resources_rules(chains):
    problems = refused(
        export_text()
        .replace("  rate: 100\n", "  rate: 0\n")
        .replace("  quota_per_day: 10000\n", "  quota_per_day: 10000000000000\n")
        .replace("weight: 2\n", "weight: 500\n")
        .replace("health_check_interval: 2.5\n", "health_check_interval: 0.01\n")
        .replace("max_age_seconds: 300\n", "max_age_seconds: 100000\n")
        .replace("max_header_count: 50\n", "max_header_count: 50\n    max_header_bytes: 10\n")
        .replace("  rate: 1000\n", "  burst: 5\n")
    )
    assert problems == [
        "policy_chains[/shop0/v1].cors.max_age_seconds: At most 86400 seconds (browsers cap "
        "it lower).",
        "policy_chains[/shop0/v1].request_limits.max_header_bytes: At least 64 bytes.",
        "policy_chains[/shop0/v1].upstream_targets[http://10.0.0.11:8080].weight: Between 1 "
        "and 100.",
        "policy_chains[/shop0/v1].load_balancing.health_check_interval: Between 0.2 and 3600 "
        "seconds.",
        "traffic_limits[/shop0/v1].rate: Ensure this value is greater than or equal to 1.",
        "traffic_limits[/shop0/v1].quota_per_day: Ensure this value is less than or equal to "
        "1000000000000.",
        "application_limits[client-0001 on /shop1/v1].burst: A burst needs a rate: set the "
        "rate too, or leave the burst empty.",
        "application_limits[client-0001 on /shop1/v1]: Set a rate or a quota: an override "
        "without one changes nothing.",
    ]


RULE = "  transformations:\n  - target: request_header\n    operation: set\n    name: X-Tenant\n"


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (
            "  - {target: request_header, operation: set, name: X-A, "
            'value: "a\\r\\nX-Injected: 1"}',
            "value: Use printable ASCII only (at most 1,024 characters): no CR, LF or other "
            "control characters.",
        ),
        (
            '  - {target: request_header, operation: set, name: "X-A\\r\\nX-B", value: v}',
            "name: 'X-A\\r\\nX-B' is not a header name.",
        ),
        (
            "  - {target: request_header, operation: set, name: Host, value: evil.example}",
            "name: Host is set or removed by the gateway for security; a transformation cannot "
            "change it.",
        ),
        (
            "  - {target: request_header, operation: set, name: X-Forwarded-For, value: 1.2.3.4}",
            "name: X-Forwarded-For is set or removed by the gateway for security; a "
            "transformation cannot change it.",
        ),
        (
            "  - {target: request_header, operation: add, name: X_Gateway_Application, value: x}",
            "name: X_Gateway_Application is set or removed by the gateway for security; a "
            "transformation cannot change it.",
        ),
        (
            "  - {target: request_header, operation: rename, name: X-A, new_name: Authorization}",
            "new_name: Authorization is set or removed by the gateway for security; a "
            "transformation cannot change it.",
        ),
        (
            "  - {target: request_header, operation: set, name: X-User, source: claim, value: sub}",
            "name: X-User is set or removed by the gateway for security; a transformation "
            "cannot change it.",
        ),
        (
            "  - {target: response_header, operation: set, name: Set-Cookie, value: a=b}",
            "name: Set-Cookie is set or removed by the gateway for security; a transformation "
            "cannot change it.",
        ),
        (
            "  - {target: response_header, operation: set, name: Access-Control-Allow-Origin, "
            'value: "*"}',
            "name: Access-Control-Allow-Origin is set or removed by the gateway for security; a "
            "transformation cannot change it.",
        ),
        (
            "  - {target: query_param, operation: set, name: a&b=c, value: v}",
            "name: 'a&b=c' is not a query parameter name (unreserved characters).",
        ),
        (
            "  - {route: 'GET /items1/{id}', target: request_header, operation: set, name: X-P, "
            "source: path_param, value: petId}",
            "value: The route /items1/{id} has no parameter 'petId'.",
        ),
    ],
)
def test_a_dangerous_transformation_is_refused_with_its_place(chains, rule, problem):
    text = export_text().replace(RULE, f"  transformations:\n{rule}\n" + RULE[19:], 1)
    assert refused(text) == [f"policy_chains[/shop0/v1].transformations[#1].{problem}"]


@pytest.mark.parametrize(
    ("network", "problem"),
    [
        ("10.0.0.0/33", "'10.0.0.0/33' is not an IPv4/IPv6 address or CIDR network."),
        ("not-an-ip", "'not-an-ip' is not an IPv4/IPv6 address or CIDR network."),
        ("2001:db8::zz/32", "'2001:db8::zz/32' is not an IPv4/IPv6 address or CIDR network."),
    ],
)
def test_an_invalid_network_is_refused_for_apis_and_applications(chains, network, problem):
    text = export_text()
    assert refused(text.replace("- 10.66.0.0/16\n", f"- {network}\n")) == [
        f"policy_chains[/shop0/v1].client_addresses.deny: {problem}"
    ]
    assert refused(text.replace("- 198.51.100.0/24\n", f"- {network}\n")) == [
        f"application_client_addresses[client-0001].allow: {problem}"
    ]


@pytest.mark.parametrize(
    ("origin", "problem"),
    [
        ("null", '"null" is the origin of sandboxed frames, file: pages and redirects'),
        ("https://*.com", "'https://*.com' allows every site under .com"),
        ("https://*example.com", "'https://*example.com' is not an origin"),
        ("https://app.example.com/", "'https://app.example.com/' is not an origin"),
        ("https://evil.example#.example.com", "is not an origin"),
        ("https://user@app.example.com", "is not an origin"),
        ("HTTPS://APP.EXAMPLE.COM", "write origins in lower case"),
    ],
)
def test_origins_that_would_widen_cors_are_refused(chains, origin, problem):
    text = export_text().replace("- https://app.example.com\n", f'- "{origin}"\n')
    problems = refused(text)
    assert len(problems) == 1
    assert problems[0].startswith("policy_chains[/shop0/v1].cors.allowed_origins: ")
    assert problem in problems[0]


def test_every_origin_with_credentials_is_refused(chains):
    text = export_text().replace(
        '    - https://app.example.com\n    - "https://*.partner.example"\n', '    - "*"\n'
    )
    assert refused(text) == [
        "policy_chains[/shop0/v1].cors.allow_credentials: Credentials cannot be allowed for "
        'every origin ("*"): any site could call the API with the user\'s cookies. List the '
        "origins instead."
    ]


def test_names_that_cannot_be_read_are_reported_first(chains):
    problems = refused(
        """gatekeep: 1
policy_chains:
- api: /shop0/v1
  transformations:
  - {route: FETCH /x, target: request_header, operation: remove, name: X-A}
traffic_limits:
- {api: "../etc", rate: 5}
application_limits:
- {application: client-0000, api: "", rate: 5}
"""
    )
    assert problems == [
        "policy_chains[/shop0/v1].transformations[#1].route: 'FETCH /x' does not name a route: "
        "give its method and path, e.g. GET /pets/{id} (ANY for a route of any method).",
        "traffic_limits[../etc].api: '..' is not allowed in a base path: use letters, digits "
        "and - . _ ~",
        "application_limits[client-0000 on every API].api: Enter a base path such as /petstore/v1.",
    ]


def test_references_to_what_does_not_exist_are_named(chains):
    problems = refused(
        """gatekeep: 1
policy_chains:
- api: /nowhere/v1
  cors: {allowed_origins: ["https://a.example"]}
- api: /shop0/v1
  transformations:
  - {route: GET /nowhere, target: request_header, operation: remove, name: X-A}
application_limits:
- {application: nobody, rate: 5}
- {application: client-0000, api: /shop1/v1, rate: 5}
application_client_addresses:
- {application: nobody, allow: [10.0.0.0/8]}
"""
    )
    assert problems == [
        "policy_chains[/nowhere/v1].api: No API with the base path '/nowhere/v1' in the file or "
        "the gateway.",
        "policy_chains[/shop0/v1].transformations[#1].route: The API /shop0/v1 has no route "
        "GET /nowhere (in the file or the gateway).",
        "application_limits[nobody on every API].application: No application named 'nobody' "
        "in the file or the gateway.",
        "application_limits[client-0000 on /shop1/v1].api: The application 'client-0000' does "
        "not call /shop1/v1: add the API to its apis first.",
        "application_client_addresses[nobody].application: No application named 'nobody' in "
        "the file or the gateway.",
    ]


def test_the_same_api_or_target_twice_is_refused(chains):
    problems = refused(
        """gatekeep: 1
policy_chains:
- api: /shop0/v1
  upstream_targets: [{url: "http://10.0.0.1:80"}, {url: "http://10.0.0.1:80/"}]
- {api: "shop0/v1/"}
traffic_limits:
- {api: /shop1/v1, rate: 5}
- {api: /SHOP1/v1, rate: 6}
"""
    )
    assert problems == [
        "policy_chains[/shop0/v1].upstream_targets[http://10.0.0.1:80/]: The target "
        "http://10.0.0.1:80 is listed twice; list each target once.",
        "policy_chains[shop0/v1/]: Item #2: '/shop0/v1' is the same as '/shop0/v1' once "
        "normalised; each API must be named once.",
        "traffic_limits[/SHOP1/v1]: Item #2: '/SHOP1/v1' collides with '/shop1/v1' once "
        "normalised; each API must be named once.",
    ]


def test_an_active_api_whose_chain_would_not_serve_is_refused(chains):
    text = export_text().replace("    enabled: true\n", "    enabled: false\n")
    assert refused(text) == [
        "policy_chains[/shop0/v1]: Cannot be active: Every upstream target is disabled: enable "
        "one, or delete them all."
    ]
    text = export_text()
    head, rest = text.split("  upstream_targets:\n", 1)
    assert refused(head + rest[rest.index("  load_balancing:\n") :]) == [
        "policy_chains[/shop0/v1]: Cannot be active: Load balancing is set up but the API has "
        "no upstream targets."
    ]
