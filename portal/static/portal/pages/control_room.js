// The control room page: its settings come from #control-room-config (no inline script).
(function () {
  "use strict";
  const config = document.getElementById("control-room-config").dataset;
  Reservoir.controlRoom({
    data: JSON.parse(document.getElementById("control-room-data").textContent),
    socketUrl: config.socketUrl,
    eventSocketBase: config.eventSocketBase,
    alertSocket: config.alertSocket,
    eventsSocket: config.eventsSocket,
    catchUpUrl: config.catchUpUrl,
    // The verbs the server says this user may post (the same check the alert view makes).
    alertActions: (config.alertActions || "").split(" ").filter(Boolean),
  });
})();
