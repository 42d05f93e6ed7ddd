// Custodia's own start-up script for the vendored Swagger UI (not part of swagger-ui-dist).
// A file rather than an inline <script>, so the page's CSP can allow scripts from 'self' only.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
