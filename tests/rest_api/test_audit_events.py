from core.models import AuditEvent

URL = "/api/v1/audit-events/"


def test_changes_are_listed_newest_first_with_before_and_after(staff_client, staff_user):
    created = staff_client.post(
        "/api/v1/apis/", {"name": "A", "base_path": "/a", "upstream_url": "https://a.example"}
    ).json()
    staff_client.patch(f"/api/v1/apis/{created['id']}/", {"name": "B"})

    events = staff_client.get(URL).json()["results"]
    assert [(e["action"], e["object_type"], e["object_id"]) for e in events] == [
        ("update", "api", str(created["id"])),
        ("create", "api", str(created["id"])),
    ]
    update = events[0]
    assert (update["actor"], update["actor_name"]) == (staff_user.pk, "ada")
    assert (update["before"]["name"], update["after"]["name"]) == ("A", "B")
    assert update["object_repr"] == "B"
    assert staff_client.get(f"{URL}{update['id']}/").json() == update


def test_events_can_be_filtered(staff_client):
    staff_client.post(
        "/api/v1/apis/", {"name": "A", "base_path": "/a", "upstream_url": "https://a.example"}
    )
    staff_client.post("/api/v1/applications/", {"name": "App"})
    only_apps = staff_client.get(f"{URL}?object_type=application").json()
    assert [e["object_repr"] for e in only_apps["results"]] == ["App"]
    assert staff_client.get(f"{URL}?action=delete").json()["count"] == 0
    assert staff_client.get(f"{URL}?search=App").json()["count"] == 1


def test_the_audit_trail_is_read_only(staff_client):
    staff_client.post("/api/v1/applications/", {"name": "App"})
    event = AuditEvent.objects.get()
    assert staff_client.post(URL, {"action": "forged"}).status_code == 405
    assert staff_client.patch(f"{URL}{event.pk}/", {"action": "forged"}).status_code == 405
    assert staff_client.delete(f"{URL}{event.pk}/").status_code == 405
    event.refresh_from_db()
    assert event.action == "create"
