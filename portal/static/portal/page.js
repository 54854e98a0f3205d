// Behaviour every portal page shares, declared in markup so that no template needs inline
// script or style (the Content-Security-Policy allows neither):
//   <form data-confirm="Sure?">          asks before submitting
//   <select data-autosubmit>             submits its form on change
//   <el data-width-pct="40">             el.style.width = 40%
//   <el data-n="3" data-total="7">       sets the CSS variables --n and --total
//   <html data-brand="#1f6feb">          the utility's colour as --brand (set at once: this
//                                        script loads in <head>, before anything is painted)
(function () {
  "use strict";
  const root = document.documentElement;
  if (/^#[0-9a-fA-F]{6}$/.test(root.dataset.brand || "")) {
    root.style.setProperty("--brand", root.dataset.brand);
  }

  function apply(root) {
    root.querySelectorAll("[data-width-pct]").forEach((el) => {
      el.style.width = Number(el.dataset.widthPct || 0) + "%";
    });
    root.querySelectorAll("[data-n][data-total]").forEach((el) => {
      el.style.setProperty("--n", Number(el.dataset.n || 0));
      el.style.setProperty("--total", Number(el.dataset.total || 1));
    });
  }

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });
  document.addEventListener("change", (event) => {
    const select = event.target.closest("select[data-autosubmit]");
    if (select && select.form) select.form.requestSubmit();
  });
  document.addEventListener("DOMContentLoaded", () => apply(document));
  // htmx swaps in partials: style what they bring.
  document.addEventListener("htmx:afterSwap", (event) => apply(event.target.parentElement || document));
  window.ReservoirPage = { apply };
})();
