"""NUL characters are refused with a 400 naming the field, before they reach the database."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url", "data", "field"),
    [
        ("get", "/api/v1/audit-events?object_id=a%00b", None, "object_id"),
        ("get", "/api/v1/pickup-requests?status=%00", None, "status"),
        ("post", "/login/", {"username": "alice\x00", "password": "x"}, "username"),
    ],
)
def test_nul_in_input_is_refused_naming_the_field(client, method, url, data, field):
    response = getattr(client, method)(url, data) if data else getattr(client, method)(url)
    assert response.status_code == 400
    assert response.json()["field"] == field


@pytest.mark.django_db
def test_input_without_nul_passes_the_guard(client):
    response = client.get("/api/v1/audit-events?object_id=abc")
    assert response.status_code == 401  # reaches the API, which asks for authentication
