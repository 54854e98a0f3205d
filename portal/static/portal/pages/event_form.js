// The new-event form: show only the fieldsets of the chosen kind (no inline script).
// Each kind's fieldset says which kinds it serves in data-kinds="a b"; without this script
// every fieldset shows under its heading and the server reads only the chosen kind's.
(function () {
  "use strict";
  const kind = document.getElementById("id_kind");
  if (!kind) return;
  function show() {
    document.querySelectorAll("fieldset[data-kinds]").forEach((set) => {
      const kinds = set.dataset.kinds.split(" ");
      set.hidden = !kinds.includes(kind.value);
    });
  }
  kind.addEventListener("change", show);
  show();
})();
