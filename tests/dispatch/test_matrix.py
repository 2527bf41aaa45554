"""Distance matrices from a routing engine, against local servers that answer in the real APIs'
shapes (OSRM ``table``, Valhalla ``sources_to_targets``); the estimate fills what they cannot route."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from greenisle.dispatch.matrix import MatrixError, matrices_for, osrm_matrices, valhalla_matrices
from greenisle.dispatch.optimization.distances import haversine_matrices

POINTS = [(32.0, 120.8), (32.1, 120.9), (31.95, 121.0)]


class _Engine(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def log_message(self, *args):  # keep the test output quiet
        pass

    def _reply(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # OSRM: /table/v1/driving/lon,lat;lon,lat?annotations=distance,duration
        url = urlsplit(self.path)
        coords = url.path.split("/table/v1/driving/")[1].split(";")
        self.seen.append({"coords": coords, "query": parse_qs(url.query)})
        n = len(coords)
        distances = [[0 if i == j else 1000 * (i + j) for j in range(n)] for i in range(n)]
        durations = [[0 if i == j else 60 * (i + j) for j in range(n)] for i in range(n)]
        distances[0][2] = None  # unroutable pair
        self._reply({"code": "Ok", "distances": distances, "durations": durations})

    def do_POST(self):  # Valhalla: /sources_to_targets
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(body)
        rows = [
            [
                {"from_index": i, "to_index": j, "distance": 0.5 * (i + j), "time": 30 * (i + j)}
                for j in range(len(body["targets"]))
            ]
            for i in range(len(body["sources"]))
        ]
        rows[1][0] = {"from_index": 1, "to_index": 0, "distance": None, "time": None}
        self._reply({"sources_to_targets": rows, "units": "kilometers"})


@pytest.fixture
def engine():
    _Engine.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Engine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _Engine.seen
    server.shutdown()


def test_osrm_table_gives_the_matrices_and_the_estimate_fills_an_unroutable_pair(engine, settings):
    url, seen = engine
    m = osrm_matrices(url, POINTS)
    assert seen[0]["coords"][0] == "120.800000,32.000000"  # OSRM wants lon,lat
    assert seen[0]["query"]["annotations"] == ["distance,duration"]
    assert m.distance[1][2] == 3000 and m.duration[1][2] == 180
    estimate = haversine_matrices(
        POINTS,
        circuity=settings.GREENISLE["ROUTING_CIRCUITY"],
        speed_kmh=settings.GREENISLE["ROUTING_SPEED_KMH"],
    )
    assert m.distance[0][2] == estimate.distance[0][2]


def test_valhalla_sources_to_targets_in_kilometres_becomes_metres(engine):
    url, seen = engine
    m = valhalla_matrices(url, POINTS)
    assert seen[0]["costing"] == "truck" and seen[0]["sources"][1] == {"lat": 32.1, "lon": 120.9}
    assert m.distance[1][2] == 1500 and m.duration[1][2] == 90
    assert m.distance[1][0] > 0  # the unroutable pair took the estimate


def test_the_configured_engine_is_used(engine, settings):
    url, seen = engine
    settings.GREENISLE = {**settings.GREENISLE, "ROUTING_ENGINE": "osrm", "ROUTING_ENGINE_URL": url}
    assert matrices_for(POINTS).distance[1][2] == 3000
    settings.GREENISLE = {**settings.GREENISLE, "ROUTING_ENGINE": "", "ROUTING_ENGINE_URL": ""}
    assert matrices_for(POINTS).distance[1][2] != 3000


def test_an_engine_error_is_a_clear_error(engine):
    url, _seen = engine

    class _Bad(_Engine):
        def do_GET(self):
            self._reply({"code": "InvalidQuery", "message": "Query string malformed"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bad)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(MatrixError, match="InvalidQuery"):
            osrm_matrices(f"http://127.0.0.1:{server.server_port}", POINTS)
    finally:
        server.shutdown()
