// The regulator's overview map: bins coloured by fill band, read from the command-centre layer
// (/api/v1/map/bins: the same bins, bands and colours as the command-centre map, jurisdiction only).
// Tiles only when the element names a tile server (data-tiles); otherwise a blank background.
document.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("map");
  if (!el || typeof L === "undefined") return;
  var map = L.map(el, { preferCanvas: true }).setView([32.05, 120.95], 9);
  // A base map only when the page names a tile server (settings GREENISLE["MAP_TILE_URL"]): offline by default.
  if (el.dataset.tiles) L.tileLayer(el.dataset.tiles, { maxZoom: 18 }).addTo(map);
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  fetch(el.dataset.src, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
    var url = (data.links && data.links.url) || "";
    var layer = L.geoJSON(data, {
      pointToLayer: function (f, latlng) {
        var c = f.properties.colour;
        return L.circleMarker(latlng, { radius: 5, color: c, fillColor: c, fillOpacity: 0.8, weight: 1 });
      },
      onEachFeature: function (f, lyr) {
        var p = f.properties;
        var fill = p.fill_pct == null ? "—" : p.fill_pct.toFixed(0) + "%";
        lyr.bindPopup('<a href="' + esc(url.replace("{id}", p.id)) + '">' + esc(p.serial) + "</a><br>" + esc(p.producer) + "<br>" + fill);
      }
    }).addTo(map);
    el.dataset.features = String(data.features.length);
    if (data.features.length) map.fitBounds(layer.getBounds(), { maxZoom: 13 });
  });
});
