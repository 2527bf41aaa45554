// Bins on a Leaflet map, coloured by fill; data from the GeoJSON endpoint (visible bins only).
// Tiles only when the element names a tile server (data-tiles); otherwise a blank background.
document.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("map");
  if (!el || typeof L === "undefined") return;
  var map = L.map(el).setView([32.05, 120.95], 9);
  // A base map only when the page names a tile server (settings GREENISLE["MAP_TILE_URL"]): offline by default.
  if (el.dataset.tiles) L.tileLayer(el.dataset.tiles, { maxZoom: 18 }).addTo(map);
  fetch(el.dataset.src, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
    var layer = L.geoJSON(data, {
      pointToLayer: function (f, latlng) {
        var p = f.properties, fill = p.fill_pct == null ? 0 : p.fill_pct;
        var color = fill >= p.threshold_pct ? "#b3261e" : fill >= 60 ? "#c77c02" : "#1f7a4d";
        return L.circleMarker(latlng, { radius: 5, color: color, fillColor: color, fillOpacity: 0.8, weight: 1 });
      },
      onEachFeature: function (f, lyr) {
        var p = f.properties;
        lyr.bindPopup('<a href="/bins/' + p.id + '/">' + p.serial + "</a><br>" + p.producer + "<br>" + (p.fill_pct == null ? "—" : p.fill_pct.toFixed(0) + "%"));
      }
    }).addTo(map);
    if (data.features.length) map.fitBounds(layer.getBounds(), { maxZoom: 13 });
  });
});
