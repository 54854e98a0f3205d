// The new-event form: offer only the kinds the chosen group's program allows (each group
// option's data-kinds) and show only the fieldsets of the chosen kind (no inline script).
// Each kind's fieldset says which kinds it serves in data-kinds="a b"; without this script
// every fieldset shows under its heading and the server reads only the chosen kind's.
(function () {
  "use strict";
  const kind = document.getElementById("id_kind");
  const group = document.getElementById("id_group");
  if (!kind) return;
  function offer() {
    const option = group && group.selectedOptions[0];
    const allowed = option && option.dataset.kinds ? option.dataset.kinds.split(" ") : null;
    Array.from(kind.options).forEach((o) => {
      o.hidden = o.disabled = allowed !== null && !allowed.includes(o.value);
    });
    if (kind.selectedOptions[0] && kind.selectedOptions[0].disabled) {
      const first = Array.from(kind.options).find((o) => !o.disabled);
      if (first) kind.value = first.value;
    }
  }
  function show() {
    document.querySelectorAll("fieldset[data-kinds]").forEach((set) => {
      set.hidden = !set.dataset.kinds.split(" ").includes(kind.value);
    });
  }
  kind.addEventListener("change", show);
  if (group) group.addEventListener("change", () => { offer(); show(); });
  offer();
  show();
})();
