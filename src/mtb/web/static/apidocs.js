/* Starts Swagger UI on /docs from the page's data attribute: the page carries no inline script (CSP),
   and nothing is loaded from another origin (no validator badge, which would send the schema away). */
(function () {
  "use strict";
  if (!window.SwaggerUIBundle) { return; }
  window.ui = window.SwaggerUIBundle({
    url: document.body.getAttribute("data-openapi"),
    domNode: document.getElementById("api-docs"),
    deepLinking: true,
    validatorUrl: null,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();
