/* Reservoir's small chart helpers on top of the vendored uPlot. */
window.Reservoir = window.Reservoir || {};

(function (R) {
  "use strict";

  // Times are shown in the utility's zone (<html data-tz>), never the browser's.
  R.tz = document.documentElement.dataset.tz || "UTC";
  R.tzDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), R.tz);
  R.formatTime = function (t, options) {
    return new Date(t * 1000).toLocaleString([], { timeZone: R.tz, ...options });
  };
  const timeAxis = () => ({ label: "Time (" + R.tz + ")", labelSize: 20 });

  function width(el) {
    return Math.max(320, el.clientWidth || el.parentElement.clientWidth || 600);
  }

  function kw(v) {
    return v == null ? "–" : (v / 1000).toFixed(1) + " kW";
  }

  // Axis ticks in kW, with a decimal when the ticks are closer than 1 kW (no "5 kW, 5 kW").
  function kwTicks(u, vals, axisIdx, foundSpace, foundIncr) {
    const digits = foundIncr && foundIncr < 1000 ? 1 : 0;
    return vals.map((v) => (v / 1000).toFixed(digits) + " kW");
  }

  /* Requested power as a step over the event window against delivered power per bucket.
     series: [{t: unix seconds, w: watts}], the element carries data-requested/start/end. */
  R.requestedVsDelivered = function (el, series) {
    if (!el || !window.uPlot) return null;
    const requested = Number(el.dataset.requested || 0);
    const start = Number(el.dataset.start), end = Number(el.dataset.end);
    // Pad by the event's own length (5 min to 1 h), so a short event is not a sliver.
    const pad = Math.min(3600, Math.max(300, end - start));
    const times = new Set(series.map((p) => p.t));
    [start - pad, start, end, end + pad].forEach((t) => times.add(t));
    const xs = Array.from(times).sort((a, b) => a - b);
    const byT = new Map(series.map((p) => [p.t, p.w]));
    const delivered = xs.map((t) => (byT.has(t) ? byT.get(t) : null));
    const req = xs.map((t) => (t >= start && t < end ? requested : 0));
    const opts = {
      width: width(el), height: 260,
      scales: { x: { time: true } },
      tzDate: R.tzDate,
      series: [
        {},
        { label: "Delivered", stroke: "#1f6feb", width: 2, spanGaps: false, value: (u, v) => kw(v) },
        { label: "Requested", stroke: "#cf222e", width: 2, dash: [6, 4], paths: uPlot.paths.stepped({ align: 1 }), value: (u, v) => kw(v) },
      ],
      axes: [timeAxis(), { values: kwTicks, size: 70 }],
    };
    const plot = new uPlot(opts, [xs, delivered, req], el);
    el._plot = plot;
    return plot;
  };

  /* A live line chart: append(t, w) adds a point and redraws in place. */
  R.liveLine = function (el, label, points) {
    const data = [points.map((p) => p.t), points.map((p) => p.w)];
    const plot = new uPlot({
      width: width(el), height: 240, scales: { x: { time: true } }, tzDate: R.tzDate,
      series: [{}, { label: label, stroke: "#1f6feb", width: 2, value: (u, v) => kw(v) }],
      axes: [timeAxis(), { values: kwTicks, size: 70 }],
    }, data, el);
    plot.append = function (t, w) {
      data[0].push(t); data[1].push(w);
      if (data[0].length > 2000) { data[0].shift(); data[1].shift(); }
      plot.setData(data);
    };
    el._plot = plot;
    return plot;
  };
})(window.Reservoir);
