// billflow staff app: progressive enhancement only; every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Charts: figures rendered by the server as JSON, drawn by plotly.js (served from the plotly wheel).
  if (window.Plotly) {
    for (const el of document.querySelectorAll(".chart[data-figure]")) {
      const figure = JSON.parse(el.dataset.figure);
      window.Plotly.newPlot(el, figure.data, figure.layout, { displayModeBar: false, responsive: true });
      el.dataset.drawn = "yes";
    }
  }
  // A submitted form's button is disabled, so a double click sends it once.
  for (const form of document.querySelectorAll("form[method=post]")) {
    form.addEventListener("submit", () => {
      for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = true;
    });
  }
  // The first field with an error gets the focus.
  const invalid = document.querySelector("[aria-invalid=true]");
  if (invalid) invalid.focus();
});
