// Starts the vendored Swagger UI on the app's own OpenAPI schema (a file, so no inline script is needed).
window.addEventListener("load", function () {
  "use strict";
  window.SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
