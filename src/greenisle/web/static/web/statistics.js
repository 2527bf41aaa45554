// The regulator's statistics charts (ECharts), each fed by a /api/v1/statistics/… endpoint with the
// filters of the page's form. The tables below the charts are rendered by the server from the same
// selectors, so a chart that fails to load loses nothing.
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("statistics-charts");
  if (!root || typeof echarts === "undefined") return;
  var L = JSON.parse(document.getElementById("statistics-labels").textContent);
  var charts = [];

  function load(endpoint) {
    return fetch(root.dataset.api + endpoint + "?" + root.dataset.query, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(endpoint + ": " + r.status); return r.json(); });
  }
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    var c = echarts.init(el);
    c.setOption(option);
    charts.push(c);
    el.dataset.ready = "1";
  }
  function pluck(rows, key) { return rows.map(function (r) { return r[key]; }); }

  load("tonnage").then(function (d) {
    chart("chart-category", {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 50, right: 10, bottom: 50, top: 16 },
      xAxis: { type: "category", data: pluck(d.categories, "code") },
      yAxis: { type: "value", name: L.tonnes },
      series: [
        { name: L.collected, type: "bar", data: pluck(d.categories, "collected_t") },
        { name: L.transferred, type: "bar", data: pluck(d.categories, "transferred_t") }
      ]
    });
    var categories = pluck(d.categories, "code");
    chart("chart-district", {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0, type: "scroll" },
      grid: { left: 50, right: 10, bottom: 50, top: 16 },
      xAxis: { type: "category", data: categories },
      yAxis: { type: "value", name: L.collected },
      series: d.districts.map(function (district) {
        var byCat = {};
        district.by_category.forEach(function (c) { byCat[c.category] = c.collected_t; });
        return {
          name: district.name, type: "bar", stack: "district",
          data: categories.map(function (c) { return byCat[c] || 0; })
        };
      })
    });
  }).catch(console.error);

  load("trend").then(function (d) {
    chart("chart-trend", {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 50, right: 50, bottom: 50, top: 24 },
      xAxis: { type: "category", data: pluck(d.months, "month") },
      yAxis: [{ type: "value", name: L.tonnes }, { type: "value", name: "%", max: 100 }],
      series: [
        { name: L.collected, type: "line", data: pluck(d.months, "collected_t") },
        { name: L.transferred, type: "line", data: pluck(d.months, "transferred_t") },
        { name: L.on_time_pct, type: "line", yAxisIndex: 1, lineStyle: { type: "dashed" }, data: pluck(d.months, "on_time_pct") }
      ]
    });
  }).catch(console.error);

  load("coverage").then(function (d) {
    var cats = pluck(d.categories, "code");
    var divisions = pluck(d.districts, "code");
    var names = pluck(d.districts, "name");
    var cells = {};
    d.cells.forEach(function (c) { cells[c.district + "|" + c.category] = c; });
    var data = [];
    var max = 0;
    divisions.forEach(function (code, y) {
      cats.forEach(function (cat, x) {
        var c = cells[code + "|" + cat] || { served_t: 0, served_producers: 0, planned_producers: 0, uncovered_producers: 0, gap: false };
        max = Math.max(max, c.served_t);
        data.push({
          value: [x, y, c.served_t],
          cell: c,
          itemStyle: c.gap ? { borderColor: "#b3261e", borderWidth: 2 } : {}
        });
      });
    });
    chart("chart-coverage", {
      tooltip: {
        formatter: function (p) {
          var c = p.data.cell;
          return names[p.data.value[1]] + " · " + cats[p.data.value[0]] + "<br>" + c.served_t + " t<br>" +
            L.served_producers + ": " + c.served_producers + " / " + c.planned_producers +
            (c.gap ? "<br><b>" + L.gap + ": " + c.uncovered_producers + "</b>" : "");
        }
      },
      grid: { left: 70, right: 10, bottom: 60, top: 10 },
      xAxis: { type: "category", data: cats, splitArea: { show: true } },
      yAxis: { type: "category", data: names, splitArea: { show: true } },
      visualMap: { min: 0, max: max || 1, calculable: true, orient: "horizontal", left: "center", bottom: 0, inRange: { color: ["#f7fbf8", "#1f7a4d"] } },
      series: [{ type: "heatmap", data: data, label: { show: true, formatter: function (p) { return p.data.cell.gap ? "!" : ""; } } }]
    });
  }).catch(console.error);

  load("bins").then(function (d) {
    var bands = d.bands.map(function (b) { return b.code === "none" ? L.no_reading : b.name; });
    chart("chart-bins", {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 40, right: 10, bottom: 50, top: 16 },
      xAxis: { type: "category", data: bands.concat([L.over_threshold]) },
      yAxis: { type: "value", name: L.bins },
      series: [{
        name: L.bins, type: "bar",
        data: d.bands.map(function (b) { return d.total.bands[b.code] || 0; }).concat([
          { value: d.total.over_threshold, itemStyle: { color: "#b3261e" } }
        ])
      }]
    });
  }).catch(console.error);

  load("manifests").then(function (d) {
    var keys = ["on_time", "late", "open_overdue", "open_pending"];
    var colours = { on_time: "#1f7a4d", late: "#c77c02", open_overdue: "#b3261e", open_pending: "#9aa0a6" };
    chart("chart-compliance", {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 40, right: 10, bottom: 50, top: 16 },
      xAxis: { type: "category", data: pluck(d.compliance, "name") },
      yAxis: { type: "value", name: L.manifests },
      series: keys.map(function (k) {
        return { name: L[k], type: "bar", stack: "deadline", itemStyle: { color: colours[k] }, data: pluck(d.compliance, k) };
      })
    });
  }).catch(console.error);

  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
});
