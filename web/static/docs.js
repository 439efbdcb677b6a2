// Starts the vendored Swagger UI on the app's own OpenAPI schema (a file, so no inline script is needed).
window.addEventListener("load", function () {
  "use strict";
  // Without deep links the operation headers hold no link inside their button (nested controls).
  window.SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: false });
  // Code samples that scroll must be reachable by keyboard (WCAG 2.1.1): give them a tab stop.
  const root = document.getElementById("swagger-ui");
  new MutationObserver(function () {
    root.querySelectorAll("pre.microlight:not([tabindex])").forEach(function (pre) {
      pre.setAttribute("tabindex", "0");
      pre.setAttribute("aria-label", "Beispiel");
    });
  }).observe(root, { childList: true, subtree: true });
});
