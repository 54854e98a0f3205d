// Device detail: 24 h power and SoC with uPlot, events shaded behind the lines.
(function () {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  // In the utility's zone (<html data-tz>), not the browser's.
  const tz = document.documentElement.dataset.tz || "UTC";
  const tzDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), tz);
  const width = () => Math.min(1100, document.querySelector("main").clientWidth - 20);

  function eventBands(u) {
    const ctx = u.ctx;
    ctx.save();
    for (const ev of data.events) {
      const x0 = u.valToPos(Math.max(ev.start, data.since), "x", true);
      const x1 = u.valToPos(Math.min(ev.end, data.until), "x", true);
      ctx.fillStyle = ev.setpoint_w >= 0 ? "rgba(31,111,235,0.12)" : "rgba(46,160,67,0.12)";
      ctx.fillRect(x0, u.bbox.top, Math.max(1, x1 - x0), u.bbox.height);
    }
    ctx.restore();
  }

  function plot(el, label, unit, points, colour, range) {
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    const opts = {
      width: width(),
      height: 220,
      tzDate: tzDate,
      scales: { x: { time: true, range: [data.since, data.until] }, y: range ? { range } : {} },
      series: [{}, { label: `${label} (${unit})`, stroke: colour, width: 1.5 }],
      axes: [{ label: "Time (" + tz + ")", labelSize: 20 }, { label: unit }],
      hooks: { drawClear: [eventBands] },
    };
    return new uPlot(opts, [xs, ys], el);
  }

  const charts = [
    plot(document.getElementById("chart-power"), "Battery power", "W", data.w, "#1f6feb"),
    plot(document.getElementById("chart-soc"), "State of charge", "%", data.soc, "#2ea043", [0, 100]),
  ];
  window.addEventListener("resize", () => charts.forEach((c) => c.setSize({ width: width(), height: 220 })));
})();
