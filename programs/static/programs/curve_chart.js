// A DER curve's chart (uPlot, x against y in real units). On the form it follows what is
// typed: the points textarea, the multipliers, the curve type and the y reference.
(function () {
  "use strict";
  const el = document.getElementById("curve-chart");
  const source = document.getElementById("curve-chart-data");
  if (!el || !source || !window.uPlot) return;
  const saved = JSON.parse(source.textContent);
  const empty = document.getElementById("curve-chart-empty");
  const field = (name) => document.getElementById("id_" + name);
  const pointsField = document.getElementById(el.dataset.pointsField || "id_points");
  const width = () => Math.max(300, Math.min(640, el.parentElement.clientWidth - 32));
  let plot = null;

  // The same reading as programs.forms.CurvePointsField: "x, y" a line, whole numbers.
  function parsePoints(text) {
    const points = [];
    for (const line of text.split(/\r?\n/)) {
      const cells = line.replace(/[;\t]/g, ",").split(",").map((c) => c.trim()).filter(Boolean);
      if (cells.length < 2) continue;
      const x = Number(cells[0]), y = Number(cells[1]);
      if (Number.isInteger(x) && Number.isInteger(y)) points.push([x, y]);
    }
    return points;
  }

  function multiplier(name, fallback) {
    const input = field(name);
    const value = input ? Number(input.value) : fallback;
    return Number.isInteger(value) ? value : fallback;
  }

  function labels() {
    let [xLabel, yLabel] = [saved.x_label, saved.y_label];
    const type = field("curve_type"), ref = field("y_ref_type");
    if (type && saved.axes[type.value]) {
      [xLabel, yLabel] = saved.axes[type.value];
      if (ref && ref.value !== "" && ref.value !== "0") {
        yLabel += ", " + ref.options[ref.selectedIndex].text;
      }
    }
    return [xLabel, yLabel];
  }

  function current() {
    if (!pointsField) return saved.points;
    const xm = multiplier("x_multiplier", saved.x_multiplier);
    const ym = multiplier("y_multiplier", saved.y_multiplier);
    return parsePoints(pointsField.value).map(([x, y]) => [x * 10 ** xm, y * 10 ** ym]);
  }

  function draw() {
    const points = current().sort((a, b) => a[0] - b[0]);
    const [xLabel, yLabel] = labels();
    if (plot) { plot.destroy(); plot = null; }
    el.dataset.points = String(points.length);
    // uPlot draws its axis labels on the canvas: say what the chart shows in words too.
    el.setAttribute("aria-label", yLabel + " against " + xLabel + ", " + points.length + " points");
    if (empty) empty.hidden = points.length > 0;
    if (!points.length) return;
    plot = new uPlot({
      width: width(),
      height: 280,
      scales: { x: { time: false } },
      legend: { show: false },
      series: [
        { label: xLabel },
        { label: yLabel, stroke: "#1f6feb", width: 2, points: { show: true, size: 7, fill: "#1f6feb" } },
      ],
      axes: [{ label: xLabel, labelSize: 20 }, { label: yLabel, labelSize: 20, size: 60 }],
    }, [points.map((p) => p[0]), points.map((p) => p[1])], el);
  }

  draw();
  for (const name of ["points", "x_multiplier", "y_multiplier", "curve_type", "y_ref_type"]) {
    const input = name === "points" ? pointsField : field(name);
    if (input) input.addEventListener("input", draw);
    if (input && input.tagName === "SELECT") input.addEventListener("change", draw);
  }
  window.addEventListener("resize", () => plot && plot.setSize({ width: width(), height: 280 }));
})();
