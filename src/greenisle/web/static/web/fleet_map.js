// The collector's trucks on a Leaflet map, where each last reported, refreshed every data-refresh seconds
// (10 by default), with the table of open truck alerts from the same GeoJSON (its "alerts" member).
// Red: the truck has an open alert. Tiles only when the element names a tile server (data-tiles).
document.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("fleet-map");
  if (!el || typeof L === "undefined") return;
  var map = L.map(el).setView([32.05, 120.95], 10);
  // A base map only when the page names a tile server (settings GREENISLE["MAP_TILE_URL"]): offline by default.
  if (el.dataset.tiles) L.tileLayer(el.dataset.tiles, { maxZoom: 18 }).addTo(map);
  var layer = L.layerGroup().addTo(map);
  var table = document.querySelector("#truck-alerts tbody");
  var emptyCell = table ? table.querySelector("[data-empty]") : null;
  var emptyText = emptyCell ? emptyCell.textContent : "";
  var fitted = false;
  var every = (parseFloat(el.dataset.refresh) || 10) * 1000;
  function esc(s) { return String(s == null ? "" : s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; }); }

  function drawTrucks(data) {
    layer.clearLayers();
    var bounds = [];
    data.features.forEach(function (f) {
      var p = f.properties, c = f.geometry.coordinates, latlng = [c[1], c[0]];
      var alarmed = p.alerts && p.alerts.length;
      var colour = alarmed ? "#b3261e" : p.speed_kmh > 0 ? "#1f5fa8" : "#1f7a4d";
      var marker = L.circleMarker(latlng, { radius: 8, color: colour, fillColor: colour, fillOpacity: 0.85, weight: 2 });
      var lines = ["<b>" + esc(p.plate) + "</b>", esc(p.time) + " · " + esc(p.speed_kmh) + " km/h"];
      if (p.cabin_temp_c != null) lines.push(esc(p.cabin_temp_c) + " °C");
      (p.alerts || []).forEach(function (a) { lines.push('<span style="color:#b3261e">' + esc(a.label) + " · " + esc(a.started) + "</span>"); });
      marker.bindPopup(lines.join("<br>"));
      marker.bindTooltip(esc(p.plate), { permanent: false, direction: "top" });
      marker.addTo(layer);
      bounds.push(latlng);
    });
    if (!fitted && bounds.length) {
      map.fitBounds(bounds, { maxZoom: 13, padding: [20, 20] });
      fitted = true;
    }
  }

  function drawAlerts(alerts) {
    if (!table) return;
    if (!alerts.length) {
      table.innerHTML = '<tr><td colspan="4" class="muted" data-empty>' + esc(emptyText) + "</td></tr>";
      return;
    }
    table.innerHTML = alerts.map(function (a) {
      return '<tr class="open"><td>' + esc(a.plate) + "</td><td>" + esc(a.label) + "</td><td>" + esc(a.started) + "</td><td>" + esc(a.summary) + "</td></tr>";
    }).join("");
  }

  function load() {
    fetch(el.dataset.src, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        drawTrucks(data);
        drawAlerts(data.alerts || []);
      })
      .catch(function () { /* the next refresh tries again */ });
  }
  load();
  setInterval(load, every);
});
