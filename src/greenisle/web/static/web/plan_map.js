// A route plan on a Leaflet map: one coloured line per truck, numbered stops, unplanned stops in grey.
// Tiles only when the element names a tile server (data-tiles); otherwise a blank background.
// Every element with id "plan-map" or class "route-map" gets a map of its data-src.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof L === "undefined") return;
  document.querySelectorAll("#plan-map, .route-map").forEach(draw);
});
function draw(el) {
  var map = L.map(el).setView([32.05, 120.95], 10);
  // A base map only when the page names a tile server (settings GREENISLE["MAP_TILE_URL"]): offline by default.
  if (el.dataset.tiles) L.tileLayer(el.dataset.tiles, { maxZoom: 18 }).addTo(map);
  function esc(s) { return String(s == null ? "" : s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; }); }
  fetch(el.dataset.src, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
    var layer = L.geoJSON(data, {
      style: function (f) { return { color: f.properties.colour || "#555", weight: 3, opacity: 0.8 }; },
      pointToLayer: function (f, latlng) {
        var p = f.properties;
        if (p.kind === "depot") return L.marker(latlng, { title: p.name });
        var colour = p.kind === "unplanned" ? "#888" : p.colour;
        return L.circleMarker(latlng, { radius: 6, color: colour, fillColor: colour, fillOpacity: 0.85, weight: 1 });
      },
      onEachFeature: function (f, lyr) {
        var p = f.properties;
        if (p.kind === "stop") lyr.bindPopup(esc(p.plate) + " #" + p.position + " · " + esc(p.arrival) + "<br>" + esc(p.producer) + "<br>" + esc(p.site));
        else if (p.kind === "unplanned") lyr.bindPopup(esc(p.producer) + "<br>" + esc(p.reason));
        else if (p.kind === "depot") lyr.bindPopup(esc(p.name));
        else if (p.kind === "route") lyr.bindTooltip(esc(p.plate));
      }
    }).addTo(map);
    if (data.features.length) map.fitBounds(layer.getBounds(), { maxZoom: 13 });
  });
}
