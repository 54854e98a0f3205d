/* Live pages: a reconnecting WebSocket and the control room's in-place updates. */
window.Reservoir = window.Reservoir || {};

(function (R) {
  "use strict";

  /* Open a WebSocket that reconnects with backoff; onOpen runs after every (re)connect so
     the page can fetch what it missed. */
  R.liveSocket = function (path, { onMessage, onOpen, onState }) {
    let delay = 500, socket = null, closed = false;
    function connect() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + location.host + path);
      socket.onopen = () => { delay = 500; onState && onState("live"); onOpen && onOpen(); };
      socket.onmessage = (e) => {
        const msg = JSON.parse(e.data);
        if (msg.type === "push") onMessage(msg.data, msg.topic);
      };
      socket.onclose = () => {
        onState && onState("reconnecting…");
        if (!closed) setTimeout(connect, delay);
        delay = Math.min(delay * 2, 15000);
      };
    }
    connect();
    return { close() { closed = true; socket && socket.close(); } };
  };

  function kw(w) {
    if (w == null) return "–";
    const a = Math.abs(w);
    if (a >= 1e6) return (w / 1e6).toFixed(2) + " MW";
    return (w / 1e3).toFixed(1) + " kW";
  }
  R.formatPower = kw;

  function time(t) {
    return R.formatTime(t, { hour: "2-digit", minute: "2-digit" });
  }

  R.controlRoom = function (cfg) {
    const state = document.getElementById("live-state");
    const chart = R.liveLine(document.getElementById("fleet-chart"), "Fleet power", cfg.data.history);
    let lastT = 0;
    const eventSockets = new Map();

    function fleet(f) {
      document.getElementById("kpi-power").textContent = kw(f.power_w);
      document.getElementById("kpi-avail").textContent = kw(f.avail_w);
      for (const k of ["online", "stale", "offline", "faulted"]) {
        document.getElementById("kpi-" + k).textContent = (f.health[k] || 0).toLocaleString();
      }
      const max = Math.max(1, ...f.soc_histogram);
      document.querySelectorAll("#soc-bars li").forEach((li, i) => {
        li.querySelector(".bar").style.width = (100 * f.soc_histogram[i] / max) + "%";
        li.querySelector(".n").textContent = f.soc_histogram[i];
      });
      if (f.t > lastT) { chart.append(f.t, f.power_w); lastT = f.t; }
    }

    function eventCard(e) {
      let card = document.getElementById("live-event-" + e.event);
      if (!card) {
        card = document.createElement("div");
        card.id = "live-event-" + e.event;
        card.className = "live-event";
        card.innerHTML = '<h3><a href="/events/' + e.event + '/"></a></h3>' +
          '<div class="rvd"><span>Requested <strong class="req"></strong></span>' +
          '<span>Delivered <strong class="del"></strong></span><span class="pct"></span></div>' +
          '<div class="meter"><span></span></div><p class="funnel-line muted"></p>';
        document.getElementById("active-events").appendChild(card);
        const sock = R.liveSocket(cfg.eventSocketBase + e.event + "/", {
          onMessage: (d) => eventUpdate(Object.assign({}, e, d)),
        });
        eventSockets.set(e.event, sock);
      }
      eventUpdate(e);
    }

    function eventUpdate(e) {
      const card = document.getElementById("live-event-" + e.event);
      if (!card) return;
      if (e.label) card.querySelector("h3 a").textContent = e.label;
      card.querySelector(".req").textContent = kw(e.requested_w);
      card.querySelector(".del").textContent = kw(e.delivered_w);
      const pct = e.requested_w ? Math.round(100 * e.delivered_w / e.requested_w) : 0;
      card.querySelector(".pct").textContent = pct + " %";
      card.querySelector(".meter span").style.width = Math.max(0, Math.min(100, pct)) + "%";
      const f = e.funnel || {};
      card.querySelector(".funnel-line").textContent =
        `${f.dispatched || 0} dispatched · ${f.received || 0} received · ${f.started || 0} started · ` +
        `${f.completed || 0} completed · ${f.opted_out || 0} opted out · ${f.silent || 0} silent`;
    }

    function render(data) {
      fleet(data.fleet);
      const active = document.getElementById("active-events");
      // Events that are no longer active leave the board (and their sockets close).
      const live = new Set(data.active.map((e) => e.event));
      for (const [id, sock] of eventSockets) {
        if (!live.has(id)) {
          sock.close();
          eventSockets.delete(id);
          document.getElementById("live-event-" + id)?.remove();
        }
      }
      if (!data.active.length) {
        active.innerHTML = '<p class="empty">No event is active. <a href="/events/new/">Schedule one</a>.</p>';
      }
      data.active.forEach((e) => { active.querySelector(".empty")?.remove(); eventCard(e); });
      const up = document.getElementById("upcoming-events");
      up.innerHTML = "";
      data.upcoming.forEach((e) => {
        const li = document.createElement("li");
        li.innerHTML = `<a href="/events/${e.event}/"></a> <span class="muted"></span>`;
        li.querySelector("a").textContent = e.label;
        li.querySelector("span").textContent = R.formatTime(e.start, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" }) + " · " + kw(e.target_w);
        up.appendChild(li);
      });
      if (!data.upcoming.length) up.innerHTML = '<li class="empty">Nothing scheduled.</li>';
      const grid = document.getElementById("regions");
      grid.innerHTML = "";
      data.regions.forEach((r) => {
        const tile = document.createElement("div");
        tile.className = "region";
        tile.style.setProperty("--online", r.online_pct);
        tile.title = `${r.devices} devices, ${r.online} online, ${kw(r.power_w)}`;
        tile.innerHTML = "<strong></strong><span></span>";
        tile.querySelector("strong").textContent = r.zip3;
        tile.querySelector("span").textContent = kw(r.power_w);
        grid.appendChild(tile);
      });
      if (!data.regions.length) grid.innerHTML = '<p class="empty">No devices with an address yet.</p>';
    }

    render(cfg.data);
    lastT = cfg.data.fleet.t;
    let first = true;
    function catchUp() {
      const sep = cfg.catchUpUrl.includes("?") ? "&" : "?";
      return fetch(cfg.catchUpUrl + sep + "since=" + lastT, { credentials: "same-origin" })
        .then((r) => r.json())
        .then((d) => {
          d.history.forEach((p) => { if (p.t > lastT) chart.append(p.t, p.w); });
          render(d);
        });
    }
    // Regions change slowly: refresh them every 30 s. Event changes arrive on "events".
    setInterval(catchUp, 30000);
    let eventsTimer = null;
    R.liveSocket(cfg.eventsSocket, {
      onMessage: () => {
        clearTimeout(eventsTimer);  // a burst of changes costs one refresh
        eventsTimer = setTimeout(catchUp, 200);
      },
    });
    R.liveSocket(cfg.socketUrl, {
      onState: (s) => { state.textContent = s; state.className = "badge " + (s === "live" ? "status-active" : "status-cancelled"); },
      onMessage: (d) => fleet(d),
      onOpen: () => {
        if (first) { first = false; return; }
        catchUp();  // fetch what was missed while disconnected
      },
    });
    // Alerts arrive live: new ones are added on top, acknowledged ones change their badge,
    // resolved ones disappear. Same markup as portal/_alert_item.html.
    const BADGE = { open: "cancelled", acknowledged: "scheduled", resolved: "completed" };
    function alertItem(a) {
      const li = document.createElement("li");
      li.id = "alert-" + a.id;
      li.className = "alert-item status-row-" + a.status;
      li.dataset.status = a.status;
      li.innerHTML = '<p class="alert-message"></p><p class="alert-meta muted small"><span class="badge"></span> ' +
        '<span class="what"></span> · <time></time></p><p class="actions"></p>';
      const msg = li.querySelector(".alert-message");
      if (a.url) {
        const link = document.createElement("a");
        link.href = a.url;
        link.textContent = a.message;
        msg.appendChild(link);
      } else {
        msg.textContent = a.message;
      }
      const badge = li.querySelector(".badge");
      badge.className = "badge status-" + (BADGE[a.status] || "cancelled");
      badge.textContent = a.status_label || a.status;
      li.querySelector(".what").textContent = a.kind_label || a.kind;
      const opened = new Date(a.opened_at * 1000);
      li.querySelector("time").dateTime = opened.toISOString();
      li.querySelector("time").textContent = R.formatTime(a.opened_at, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
      const actions = li.querySelector(".actions");
      const verbs = (a.status === "open" ? ["acknowledge", "resolve"] : ["resolve"])
        .filter((verb) => (cfg.alertActions || []).includes(verb));
      verbs.forEach((verb) => {
        const button = document.createElement("button");
        button.className = "link";
        button.textContent = verb[0].toUpperCase() + verb.slice(1);
        button.setAttribute("hx-post", "/alerts/" + a.id + "/" + verb + "/");
        button.setAttribute("hx-vals", '{"compact": "1"}');
        button.setAttribute("hx-target", "#alert-" + a.id);
        button.setAttribute("hx-swap", "outerHTML");
        actions.appendChild(button);
      });
      return li;
    }
    R.liveSocket(cfg.alertSocket, {
      onMessage: (d) => {
        const rows = document.getElementById("alert-rows");
        (d.resolved || []).forEach((id) => document.getElementById("alert-" + id)?.remove());
        const a = d.alert;
        if (a && a.status !== "resolved") {
          const old = document.getElementById("alert-" + a.id);
          if (!old || old.dataset.status !== a.status) {
            const li = alertItem(a);
            if (old) old.replaceWith(li); else rows.prepend(li);
            if (window.htmx) htmx.process(li);
          }
        }
        document.getElementById("no-alerts").hidden = rows.children.length > 0;
      },
    });
    R.controlRoomState = { chart, fleet, render };
    return R.controlRoomState;
  };
})(window.Reservoir);
