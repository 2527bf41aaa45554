// The regulator's command-centre map. District boundaries (bundled GeoJSON, no tiles needed), bins by
// fill band, trucks, warehouses and facilities, open findings; bins, trucks and findings are read again
// every data-refresh seconds (markers are updated in place, so an open popup stays open). A base map is
// drawn only when the page passes a tile server in data-tiles.
document.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("cc-map");
  if (!el || typeof L === "undefined") return;
  var labels = JSON.parse(document.getElementById("cc-labels").textContent);
  var statusEl = document.getElementById("cc-status");
  var every = (parseFloat(el.dataset.refresh) || 15) * 1000;
  var map = L.map(el, { zoomSnap: 0.25 }).setView([32.1, 120.95], 9);
  if (el.dataset.tiles) L.tileLayer(el.dataset.tiles, { maxZoom: 18 }).addTo(map);
  // Many bins draw faster on a canvas; a few stay SVG elements (inspectable, crisp).
  var canvas = L.canvas({ padding: 0.3 });
  var SEVERITY = { A: "#7a0019", B: "#d4551c", C: "#d9a400" };
  var layers = {
    districts: L.layerGroup().addTo(map),
    bins: L.layerGroup().addTo(map),
    trucks: L.layerGroup().addTo(map),
    sites: L.layerGroup().addTo(map),
    findings: L.layerGroup().addTo(map)
  };
  var markers = { bins: {}, trucks: {}, findings: {} };
  var fitted = false;

  function esc(s) { return String(s == null ? "" : s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; }); }
  function link(href, text) { return href ? '<a href="' + esc(href) + '">' + esc(text) + "</a>" : ""; }
  function links(p, extra) {
    return '<div class="popup-links">' + [link(p.url, labels.open), link(p.audit_url, labels.audit)].concat(extra || []).filter(Boolean).join(" · ") + "</div>";
  }
  // Times as Nantong reads them, whatever the browser's own time zone.
  function localTime(iso) {
    return new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body && body.detail ? body.detail : r.status + " " + url);
        return body;
      });
    });
  }
  function showError(err) {
    statusEl.textContent = labels.failed + ": " + err.message;
    statusEl.className = "failed";
  }
  function showUpdated(iso) {
    var at = iso ? new Date(iso) : new Date();
    var time = at.toLocaleTimeString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });
    statusEl.textContent = labels.updated + " " + time;
    statusEl.className = "muted";
    statusEl.dataset.updated = iso || "";
  }

  // Markers keyed by id: moved, recoloured and re-labelled in place; those gone are removed.
  function sync(kind, features, make, update) {
    var seen = {};
    features.forEach(function (f) {
      if (!f.geometry) return;
      var id = f.properties.id, c = f.geometry.coordinates, latlng = [c[1], c[0]];
      seen[id] = true;
      var marker = markers[kind][id];
      if (!marker) {
        marker = make(f, latlng);
        markers[kind][id] = marker;
        marker.addTo(layers[kind]);
      } else {
        marker.setLatLng(latlng);
        update(marker, f);
      }
    });
    Object.keys(markers[kind]).forEach(function (id) {
      if (!seen[id]) { layers[kind].removeLayer(markers[kind][id]); delete markers[kind][id]; }
    });
  }

  // --- districts ---
  function drawDistricts(data) {
    var scoped = [];
    L.geoJSON(data, {
      style: function (f) {
        var p = f.properties;
        return {
          color: p.in_scope ? "#2d6a4f" : "#9aa5a0", weight: p.selected ? 3 : 1.5, dashArray: p.in_scope ? null : "4 4",
          fillColor: p.selected ? "#95d5b2" : p.in_scope ? "#d8f3dc" : "#f1f3f2", fillOpacity: 0.45,
          className: "district district-" + p.code + (p.in_scope ? " in-scope" : " out-of-scope")
        };
      },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        if (p.in_scope) {
          scoped.push(layer);
          layer.bindTooltip(esc(p.name) + " · " + esc(labels.filter_district), { sticky: true });
          layer.on("click", function () {
            var select = document.getElementById("cc-division");
            select.value = p.code;
            document.getElementById("cc-filters").submit();
          });
        }
      }
    }).addTo(layers.districts);
    data.features.forEach(function (f) {
      var p = f.properties;
      if (!p.label) return;
      L.marker([p.label[1], p.label[0]], {
        interactive: false, keyboard: false,
        icon: L.divIcon({ className: "district-label" + (p.in_scope ? "" : " out-of-scope"), html: esc(p.name), iconSize: null })
      }).addTo(layers.districts);
    });
    var chosen = data.features.filter(function (f) { return f.properties.selected; });
    var target = chosen.length ? L.geoJSON(chosen) : scoped.length ? L.featureGroup(scoped) : null;
    if (target && !fitted) { map.fitBounds(target.getBounds(), { padding: [10, 10] }); fitted = true; }
  }

  // --- bins ---
  function binPopup(p) {
    var fill = p.fill_pct == null ? "—" : p.fill_pct.toFixed(0) + "%";
    return "<b>" + esc(p.serial) + "</b><br>" + esc(labels.producer) + ": " + esc(p.producer) +
      "<br>" + esc(labels.collector) + ": " + esc(p.collector) +
      '<br>' + esc(labels.fill) + ': <span class="bin-fill">' + fill + "</span> / " + esc(labels.threshold) + " " + p.threshold_pct.toFixed(0) + "%" +
      (p.observed_at ? "<br>" + esc(labels.reported) + ": " + esc(localTime(p.observed_at)) : "") +
      (p.offline ? '<br><span style="color:#b3261e">' + esc(labels.offline) + "</span>" : "") + links(p);
  }
  function binStyle(p) {
    return { color: p.offline ? "#555" : p.colour, fillColor: p.colour, fillOpacity: 0.85, weight: p.offline ? 2 : 1, dashArray: p.offline ? "2 2" : null };
  }
  // The bin layer carries its links once, as templates ({id}); each bin gets its own.
  function withLinks(features, templates) {
    if (!templates) return features;
    features.forEach(function (f) {
      Object.keys(templates).forEach(function (key) { f.properties[key] = templates[key].replace("{id}", f.properties.id); });
    });
    return features;
  }
  function drawBins(data) {
    withLinks(data.features, data.links);
    var many = data.features.length > 1500;
    sync("bins", data.features, function (f, latlng) {
      var p = f.properties;
      var options = binStyle(p);
      options.radius = 6;
      options.className = "bin-marker bin-" + p.id;
      if (many) options.renderer = canvas;
      var marker = L.circleMarker(latlng, options).bindPopup(binPopup(p));
      marker.feature = f;
      return marker;
    }, function (marker, f) {
      marker.setStyle(binStyle(f.properties));
      marker.setPopupContent(binPopup(f.properties));
      marker.feature = f;
    });
  }

  // --- trucks ---
  function truckPopup(p) {
    var lines = ["<b>" + esc(p.plate) + "</b>", esc(p.collector), esc(p.time) + " · " + esc(labels.speed) + " " + esc(p.speed_kmh) + " km/h"];
    if (p.quiet) lines.push('<span class="muted">' + esc(labels.quiet) + "</span>");
    (p.alerts || []).forEach(function (a) {
      lines.push('<span style="color:#b3261e">' + esc(a.label) + " · " + esc(a.started) + "</span> " + link(a.audit_url, labels.audit));
    });
    return lines.join("<br>") + '<div class="popup-links">' + [link(p.url, labels.trip), link(p.audit_url, labels.audit)].filter(Boolean).join(" · ") + "</div>";
  }
  function truckStyle(p) {
    var colour = p.alerts && p.alerts.length ? "#b3261e" : "#1f5fa8";
    return { color: "#fff", weight: 2, fillColor: colour, fillOpacity: p.quiet ? 0.35 : 0.95 };
  }
  function drawTrucks(data) {
    sync("trucks", data.features, function (f, latlng) {
      var options = truckStyle(f.properties);
      options.radius = 8;
      options.className = "truck-marker truck-" + f.properties.id;
      return L.circleMarker(latlng, options).bindPopup(truckPopup(f.properties)).bindTooltip(esc(f.properties.plate), { direction: "top" });
    }, function (marker, f) {
      marker.setStyle(truckStyle(f.properties));
      marker.setPopupContent(truckPopup(f.properties));
    });
  }

  // --- warehouses and facilities ---
  function drawSites(data) {
    data.features.forEach(function (f) {
      var p = f.properties, c = f.geometry.coordinates;
      var colour = p.kind === "facility" ? "#0b6e75" : "#5b3fa8";
      var title = p.kind === "facility" ? labels.facility : p.source === "depot" ? labels.depot : labels.warehouse;
      L.circleMarker([c[1], c[0]], { radius: 7, color: "#fff", weight: 2, fillColor: colour, fillOpacity: 0.95, className: "site-marker site-" + p.id })
        .bindPopup("<b>" + esc(p.name) + "</b> · " + esc(title) + "<br>" + esc(p.organization) + "<br>" + esc(p.address) +
          '<div class="popup-links">' + [link(p.audit_url, labels.audit), link(p.organization_audit_url, labels.organisation_audit)].join(" · ") + "</div>")
        .addTo(layers.sites);
    });
  }

  // --- findings ---
  function findingPopup(p) {
    return "<b>" + esc(p.rule_title) + "</b><br>" + esc(p.organization) + "<br>" + esc(labels.severity) + " " + esc(p.severity) + " · " + esc(p.status_label) +
      (p.deadline ? "<br>" + esc(labels.deadline) + " " + esc(p.deadline) + (p.overdue ? ' <b style="color:#b3261e">' + esc(labels.overdue) + "</b>" : "") : "") +
      "<br>" + esc(p.message) + links(p, [link(p.object_audit_url, labels.object_audit)]);
  }
  function drawFindings(data) {
    sync("findings", data.features, function (f, latlng) {
      var colour = SEVERITY[f.properties.severity] || "#7a0019";
      return L.circleMarker(latlng, { radius: 13, color: colour, weight: 3, fill: false, className: "finding-marker finding-" + f.properties.id })
        .bindPopup(findingPopup(f.properties));
    }, function (marker, f) {
      marker.setStyle({ color: SEVERITY[f.properties.severity] || "#7a0019" });
      marker.setPopupContent(findingPopup(f.properties));
    });
    var list = document.getElementById("cc-findings");
    document.getElementById("cc-findings-count").textContent = data.features.length;
    if (!data.features.length) {
      list.innerHTML = '<li class="muted" data-empty>' + esc(labels.no_findings) + "</li>";
      return;
    }
    list.innerHTML = data.features.map(function (f) {
      var p = f.properties;
      return '<li class="sev-' + esc(p.severity) + '" data-id="' + esc(p.id) + '">' + link(p.url, p.rule_title) + "<br>" + esc(p.organization) + " · " + esc(p.severity) + " · " + esc(p.status_label) +
        (p.deadline ? " · " + esc(p.deadline) : "") + '<br><a class="muted" href="' + esc(p.audit_url) + '">' + esc(labels.audit) + "</a>" +
        (f.geometry ? "" : ' <span class="muted">' + esc(labels.no_place) + "</span>") + "</li>";
    }).join("");
    list.querySelectorAll("li[data-id]").forEach(function (item) {
      var marker = markers.findings[item.dataset.id];
      if (!marker) return;
      item.addEventListener("mouseenter", function () { marker.setStyle({ weight: 6 }); });
      item.addEventListener("mouseleave", function () { marker.setStyle({ weight: 3 }); });
    });
  }

  // Layer toggles.
  document.querySelectorAll("input[data-layer]").forEach(function (box) {
    box.addEventListener("change", function () {
      var layer = layers[box.dataset.layer];
      if (box.checked) map.addLayer(layer); else map.removeLayer(layer);
    });
  });

  function refresh() {
    return Promise.all([getJSON(el.dataset.bins), getJSON(el.dataset.trucks), getJSON(el.dataset.findings)])
      .then(function (all) {
        drawBins(all[0]);
        drawTrucks(all[1]);
        drawFindings(all[2]);
        showUpdated(all[0].generated_at);
        el.dataset.refreshed = String((parseInt(el.dataset.refreshed || "0", 10) || 0) + 1);
      })
      .catch(showError);
  }

  getJSON(el.dataset.districts).then(drawDistricts).catch(showError).then(function () {
    return getJSON(el.dataset.sites).then(drawSites).catch(showError);
  }).then(refresh).then(function () {
    setInterval(refresh, every);
  });
  el._greenisle = { map: map, layers: layers, markers: markers };
});
