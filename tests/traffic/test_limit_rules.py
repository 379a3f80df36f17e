"""What an admin may configure: positive, bounded limits; a burst only with a rate; one
override per application and API. Refused by the model, so every entry point refuses."""

import pytest
from django.core.exceptions import ValidationError

from apis.models import Api
from applications.models import Application
from core.models import AuditEvent
from tests.traffic.conftest import limit_api, limit_application
from traffic.choices import MAX_QUOTA, MAX_RATE
from traffic.models import ApplicationLimit, LimitPolicy
from traffic.services import delete_limit_policy, save_limit_policy
from traffic.snapshot import collect_limits, compile_limits


@pytest.fixture
def api(db):
    return Api.objects.create(
        name="Petstore", version="v1", base_path="/pets/v1", upstream_url="https://up.example"
    )


@pytest.fixture
def application(db, api):
    app = Application.objects.create(name="Client", identifying_claims={"client_id": "c"})
    app.apis.add(api)
    return app


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rate", 0),
        ("rate", -1),
        ("rate", MAX_RATE + 1),
        ("rate", 10**30),
        ("burst", 0),
        ("quota_per_day", 0),
        ("quota_per_day", -5),
        ("quota_per_month", MAX_QUOTA + 1),
        ("anonymous_rate", 0),
        ("anonymous_rate", 10**12),
        ("period", 7),
        ("when_redis_down", "sometimes"),
    ],
)
def test_a_policy_with_a_zero_negative_huge_or_unknown_value_is_refused(api, field, value):
    policy = LimitPolicy(api=api, **{"rate": 10, field: value})
    with pytest.raises(ValidationError) as refused:
        save_limit_policy(policy)
    assert field in refused.value.message_dict
    assert not LimitPolicy.objects.exists()
    assert not AuditEvent.objects.filter(object_type__icontains="limit").exists()


def test_a_burst_without_a_rate_is_refused(api):
    with pytest.raises(ValidationError) as refused:
        save_limit_policy(LimitPolicy(api=api, burst=5))
    assert "burst" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        save_limit_policy(LimitPolicy(api=api, anonymous_burst=5))
    assert "anonymous_burst" in refused.value.message_dict


def test_an_override_must_limit_something_and_belong_to_an_associated_api(api, application):
    with pytest.raises(ValidationError) as refused:
        limit_application(application, api)
    assert "__all__" in refused.value.message_dict
    elsewhere = Api.objects.create(
        name="Other", version="v1", base_path="/other/v1", upstream_url="https://up.example"
    )
    with pytest.raises(ValidationError) as refused:
        limit_application(application, elsewhere, rate=5)
    assert "not associated" in str(refused.value.message_dict["api"])


def test_one_override_per_application_and_api_and_one_for_every_api(api, application):
    limit_application(application, api, rate=5)
    limit_application(application, None, rate=6)
    for target in (api, None):
        with pytest.raises(ValidationError) as refused:
            limit_application(application, target, rate=7)
        assert "already has limits" in str(refused.value.message_dict["api"])
    assert ApplicationLimit.objects.count() == 2


def test_a_change_is_audited_and_moves_the_config_version(transactional_db, api):
    from core.config_version import database_version

    before = database_version()
    policy = limit_api(api, rate=5)
    assert database_version() != before
    events = AuditEvent.objects.filter(object_id=str(policy.pk), action="create")
    assert events.count() == 1
    assert events.get().after["rate"] == 5
    policy_id = policy.pk
    delete_limit_policy(policy)
    assert AuditEvent.objects.filter(action="delete", object_id=str(policy_id)).exists()


def test_overrides_merge_field_by_field_api_specific_first(api, application):
    limit_api(api, rate=10, quota_per_day=100, quota_per_month=1000)
    limit_application(application, None, rate=50, quota_per_day=500)
    limit_application(application, api, quota_per_day=200)
    compiled = compile_limits(collect_limits()).for_api(api.id)
    mine = compiled.for_application(application.id)
    assert (mine.rate, mine.quota_per_day, mine.quota_per_month) == (50, 200, 1000)
    assert compiled.for_application(application.id + 1000).rate == 10  # everyone else
    assert mine.interval_us == 20_000 and mine.tolerance_us == 20_000 * 50
