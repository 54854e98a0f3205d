// A site's envelope over time (uPlot): each limit flat over its interval, with gaps between envelopes.
(function () {
  "use strict";
  const el = document.getElementById("envelope-chart");
  const source = document.getElementById("envelope-chart-data");
  if (!el || !source || !window.uPlot) return;
  const chart = JSON.parse(source.textContent);
  if (!chart.times.length) return;
  const colours = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700"];
  const width = () => Math.max(300, Math.min(960, el.parentElement.clientWidth - 32));
  const plot = new uPlot({
    width: width(),
    height: 280,
    series: [
      {},
      ...chart.series.map((s, i) => ({
        label: s.label, stroke: colours[i % colours.length], width: 2, spanGaps: false,
      })),
    ],
    axes: [{}, { label: "W", labelSize: 20, size: 70 }],
  }, [chart.times, ...chart.series.map((s) => s.values)], el);
  window.addEventListener("resize", () => plot.setSize({ width: width(), height: 280 }));
})();
