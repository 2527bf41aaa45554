"""Schemathesis against /api/v1/openapi.json of the WSGI application: for every operation, valid and
invalid requests built from the document never get a server error.

The caller is a dispatcher with data present (Alice's loop received, a second request open, a draft
manifest), with a Bearer token and the bin's device key. Path ids are generated, and half the time taken
from the objects that exist, so the services run on real rows rather than stopping at 404.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from factories import BinFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from api.helpers import bearer_headers
from config.wsgi import application
from greenisle.api.api import api
from greenisle.dispatch.services import trip_assign
from greenisle.manifests.services import manifest_add_container
from greenisle.telemetry.services import reading_ingest, reading_validate

OPERATIONS = sorted(
    f"{method.upper()} {path}" for path, ops in api.get_openapi_schema()["paths"].items() for method in ops
)
MAX_EXAMPLES = 25


@pytest.fixture
def in_process_requests():
    """The WSGI handler closes the database connection at the end of each request, which would end the
    test's transaction; Django's own test client lifts that hook the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(db, in_process_requests):
    """The document as the application serves it."""
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@pytest.fixture
def existing(world, received_manifest, trip):
    """Rows to aim the generated requests at: a received manifest, an open request on a second bin and a
    draft manifest on a second trip."""
    second_bin = BinFactory(site=world.site, collector=world.collector)
    outcome = reading_ingest(
        device=second_bin, reading=reading_validate(observed_at=timezone.now(), fill_pct=90), transport="http"
    )
    other_bin = BinFactory(site=world.site, collector=world.collector)
    opened = reading_ingest(
        device=other_bin, reading=reading_validate(observed_at=timezone.now(), fill_pct=95), transport="http"
    ).request_opened
    next_trip = trip_assign(
        actor=world.dispatcher, request_ids=[opened], vehicle_id=world.vehicle.pk, driver_id=world.driver.pk,
        service_date=timezone.localdate() + timezone.timedelta(days=1),
    )  # fmt: skip
    draft = manifest_add_container(
        actor=world.dispatcher,
        request_id=opened,
        waste_code="900-214-08",
        weight_kg="20",
        container_code="S-1",
    ).manifest
    return {
        "bin_id": [str(world.bin.pk), str(second_bin.pk)],
        "request_id": [outcome.request_opened, opened],
        "trip_id": [str(trip.pk), str(next_trip.pk)],
        "manifest_id": [str(received_manifest.pk), str(draft.pk)],
    }


@pytest.mark.slow
@pytest.mark.parametrize("operation_label", OPERATIONS)
def test_no_operation_answers_with_a_server_error(api_schema, world, existing, operation_label):
    method, path = operation_label.split(" ", 1)
    operation = api_schema[path][method]
    headers = {**bearer_headers(world.dispatcher), "X-Device-Key": world.bin.device_key}
    params = [name for name in existing if f"{{{name}}}" in path]
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategies.append(operation.as_strategy(generation_mode=mode))
        if params:
            strategies.extend(
                operation.as_strategy(generation_mode=mode, path_parameters={name: value for name in params})
                for value_index in range(2)
                for value in [existing[params[0]][value_index]]
            )

    @given(case=st.one_of(strategies))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def call(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=[not_a_server_error])

    call()
