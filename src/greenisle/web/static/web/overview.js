// Division overview as a bar chart (ECharts), fed by the regulator's overview JSON.
document.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("overview-chart");
  if (!el || typeof echarts === "undefined") return;
  fetch(el.dataset.src, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
    var chart = echarts.init(el);
    var keys = Object.keys(d.series);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { bottom: 0, data: keys.map(function (k) { return d.labels[k]; }) },
      grid: { left: 40, right: 10, bottom: 60, top: 16 },
      xAxis: { type: "category", data: d.divisions },
      yAxis: { type: "value" },
      series: keys.map(function (k) { return { name: d.labels[k], type: "bar", data: d.series[k] }; })
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
});
