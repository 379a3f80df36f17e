"""StaffOnlyCRUDTests: the generic tests every admin-API resource gets, written once.

A resource's test class declares `model`, `list_url()`, `create_data()`,
`update_data` and `invalid_data` (the payload and the fields that must carry
errors); the mixin checks anonymous → 401, non-staff → 403, the full CRUD cycle
with its audit events, and the 400 problem with `errors` {field: [messages]} and
nothing saved. Every error is problem+json (assert_problem).
"""

from core.models import AuditEvent


def assert_problem(response, status: int, code: str) -> dict:
    """An RFC 9457 problem with our members; the request id is echoed as a header."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json", response["Content-Type"]
    body = response.json()
    assert body["type"] == "about:blank"
    assert (body["status"], body["code"]) == (status, code), body
    assert body["title"] and body["detail"], body
    assert body["request_id"] and response["X-Request-Id"] == body["request_id"]
    assert response["Cache-Control"] == "no-store"
    return body


def assert_field_errors(response, fields: set[str]) -> None:
    """A 400 validation problem whose `errors` name each field, {field: [messages]}."""
    body = assert_problem(response, 400, "validation_failed")
    errors = body["errors"]
    assert fields <= set(errors), body
    assert set(body["error_codes"]) == set(errors), body
    for name in fields:
        messages = errors[name]
        assert isinstance(messages, list | dict) and messages, body
        if isinstance(messages, list):
            assert all(isinstance(m, str) and m for m in messages), body


class StaffOnlyCRUDTests:
    model = None
    update_data: dict = {}
    invalid_data: tuple[dict, set[str]] = ({}, set())

    def list_url(self) -> str:
        raise NotImplementedError

    def create_data(self) -> dict:
        raise NotImplementedError

    def detail_url(self, pk: int) -> str:
        return f"{self.list_url()}{pk}/"

    def existing_pk(self, staff_client) -> int:
        response = staff_client.post(self.list_url(), self.create_data(), format="json")
        assert response.status_code == 201, response.content
        return response.json()["id"]

    def test_anonymous_callers_get_401(self, anon_client, staff_client):
        pk = self.existing_pk(staff_client)
        calls = [
            anon_client.get(self.list_url()),
            anon_client.post(self.list_url(), self.create_data(), format="json"),
            anon_client.get(self.detail_url(pk)),
            anon_client.patch(self.detail_url(pk), self.update_data, format="json"),
            anon_client.delete(self.detail_url(pk)),
        ]
        for response in calls:
            assert_problem(response, 401, "not_authenticated")
        assert {r["WWW-Authenticate"] for r in calls} == {"Token"}
        assert self.model.objects.filter(pk=pk).exists()

    def test_non_staff_users_get_403(self, member_client, staff_client):
        pk = self.existing_pk(staff_client)
        count = self.model.objects.count()
        calls = [
            member_client.get(self.list_url()),
            member_client.post(self.list_url(), self.create_data(), format="json"),
            member_client.get(self.detail_url(pk)),
            member_client.patch(self.detail_url(pk), self.update_data, format="json"),
            member_client.delete(self.detail_url(pk)),
        ]
        for response in calls:
            assert_problem(response, 403, "permission_denied")
        assert self.model.objects.count() == count

    def test_staff_can_create_read_update_and_delete(self, staff_client, staff_user):
        data = self.create_data()
        created = staff_client.post(self.list_url(), data, format="json")
        assert created.status_code == 201, created.content
        pk = created.json()["id"]

        listed = staff_client.get(self.list_url())
        assert listed.status_code == 200
        assert pk in [item["id"] for item in listed.json()["results"]]
        assert staff_client.get(self.detail_url(pk)).json()["id"] == pk

        updated = staff_client.patch(self.detail_url(pk), self.update_data, format="json")
        assert updated.status_code == 200, updated.content
        for name, value in self.update_data.items():
            assert updated.json()[name] == value
        assert staff_client.get(self.detail_url(pk)).json() == updated.json()

        assert staff_client.delete(self.detail_url(pk)).status_code == 204
        assert_problem(staff_client.get(self.detail_url(pk)), 404, "not_found")
        assert not self.model.objects.filter(pk=pk).exists()

        events = AuditEvent.objects.filter(
            object_type=self.model._meta.model_name, object_id=str(pk)
        ).order_by("id")
        assert [e.action for e in events] == ["create", "update", "delete"]
        assert {e.actor for e in events} == {staff_user}
        assert events[0].before is None and events[0].after is not None
        assert events[2].before is not None and events[2].after is None
        for name, value in self.update_data.items():
            assert events[1].after[name] == value

    def test_invalid_payload_is_400_with_field_errors_and_saves_nothing(self, staff_client):
        payload, fields = self.invalid_data
        count, events = self.model.objects.count(), AuditEvent.objects.count()
        response = staff_client.post(self.list_url(), payload, format="json")
        assert_field_errors(response, fields)
        assert self.model.objects.count() == count
        assert AuditEvent.objects.count() == events

    def test_invalid_update_is_400_and_changes_nothing(self, staff_client):
        pk = self.existing_pk(staff_client)
        before = staff_client.get(self.detail_url(pk)).json()
        payload, fields = self.invalid_data
        response = staff_client.patch(self.detail_url(pk), payload, format="json")
        assert_field_errors(response, fields)
        assert staff_client.get(self.detail_url(pk)).json() == before
