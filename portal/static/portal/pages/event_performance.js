// The settlement page of one event: delivered curve and factor histogram.
(function () {
  const data = JSON.parse(document.getElementById("settlement-chart").textContent);
  const width = Math.min(900, document.querySelector("main").clientWidth - 20);
  const c = data.curve;
  // In the utility's zone (<html data-tz>), not the browser's.
  const tz = document.documentElement.dataset.tz || "UTC";
  const tzDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), tz);
  if (c.t.length) {
    new uPlot({width: width, height: 280, tzDate: tzDate, axes: [{label: "Time (" + tz + ")"}, {}], series: [{}, {label: "Requested MW", stroke: "#888"}, {label: "Delivered MW", stroke: getComputedStyle(document.documentElement).getPropertyValue("--brand") || "#1f6feb", width: 2}]},
      [c.t, c.requested_mw, c.delivered_mw], document.getElementById("curve-chart"));
  }
  const h = data.histogram;
  if (h.length) {
    new uPlot({width: width, height: 220, scales: {x: {time: false}}, series: [{label: "Factor"}, {label: "Devices", stroke: "#555", fill: "rgba(31,111,235,0.3)", paths: uPlot.paths.bars({size: [0.9]})}]},
      [h.map(b => (b.low + b.high) / 2), h.map(b => b.n)], document.getElementById("factor-chart"));
  }
})();
