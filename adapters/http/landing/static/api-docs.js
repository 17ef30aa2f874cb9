// Starts Swagger UI on the document the page names (a file, not inline: the page's CSP allows no inline script).
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,          // never send the document to an outside validator
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"         // no top bar with a URL box: this page shows this server's API only
  });
});
