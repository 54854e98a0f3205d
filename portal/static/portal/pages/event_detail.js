// The event page: chart, and while the event runs the live socket (no inline script).
(function () {
  const el = document.getElementById("power-chart");
  const series = JSON.parse(document.getElementById("power-series").textContent);
  const plot = Reservoir.requestedVsDelivered(el, series);
  const socketUrl = document.getElementById("event-live-config").dataset.socketUrl;
  if (socketUrl) {
  // While the event runs, live aggregates append delivered power and refresh the funnel;
  // status changes (activated, completed, cancelled) update the badge.
  const badge = document.getElementById("event-status");
  Reservoir.liveSocket(socketUrl, {
    onState: (state) => { badge.dataset.live = state; },
    onMessage: (d) => {
      if (d.status && d.status !== badge.dataset.status) {
        badge.dataset.status = d.status;
        badge.className = "badge status-" + d.status;
        badge.textContent = d.status_label || d.status;
      }
      if (d.status === "active") {
        series.push({ t: Math.round(d.t), w: d.delivered_w });
        el.innerHTML = "";
        Reservoir.requestedVsDelivered(el, series);
        el.dataset.livePoints = Number(el.dataset.livePoints || 0) + 1;
        el.parentElement.querySelector(".empty")?.remove();
      }
      document.querySelectorAll(".funnel li").forEach((li) => {
        const key = li.dataset.key;
        if (key in d.funnel) {
          li.querySelector(".n").textContent = d.funnel[key];
          li.querySelector(".bar").style.setProperty("--n", d.funnel[key]);
          li.querySelector(".bar").style.setProperty("--total", d.funnel.dispatched || 1);
        }
      });
      const now = document.getElementById("live-delivered"); // only while the event can change
      if (now) now.textContent = Reservoir.formatPower(d.delivered_w);
      // The snapshot carries the first rows of the device table; update those shown here.
      (d.devices || []).forEach((row) => {
        const tr = document.getElementById("dispatch-" + row.id);
        if (!tr) return;
        const cell = tr.querySelector(".response");
        const code = row.response === null ? "" : String(row.response);
        if (cell.dataset.code !== code || cell.dataset.participation !== row.participation) {
          cell.dataset.code = code;
          cell.dataset.participation = row.participation;
          cell.textContent = row.participation_label;
          if (code) {
            const small = document.createElement("small");
            small.className = "muted";
            small.textContent = "(" + code + ")";
            cell.append(" ", small);
          }
        }
        tr.querySelector(".power").textContent =
          row.power_w === null ? "–" : Math.round(row.power_w) + " W";
      });
    },
  });
  }
})();
