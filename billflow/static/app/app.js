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
  // The invoice's live workflow state, when its run did not answer within the page's short wait.
  for (const el of document.querySelectorAll("[data-live-src]")) {
    fetch(el.dataset.liveSrc, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        const found = new DOMParser().parseFromString(html, "text/html").getElementById("live-section");
        const section = el.closest("#live-section");
        if (found && section) section.replaceWith(found);
      })
      .catch(() => { el.textContent = "The workflow does not answer right now; the figures above come from the database."; });
  }
  // The first field with an error gets the focus.
  const invalid = document.querySelector("[aria-invalid=true]");
  if (invalid) invalid.focus();
});
