// Served from our own origin: the docs page works with no internet. "Try it out" requests
// carry the session cookie and the CSRF header the API requires for unsafe methods.
(function () {
  let csrf = null;
  fetch("/api/v1/auth/csrf", { credentials: "same-origin" })
    .then((r) => r.json()).then((b) => { csrf = b.csrf_token; });
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    requestInterceptor: (req) => {
      if (csrf && !/^(GET|HEAD|OPTIONS)$/i.test(req.method)) req.headers["X-CSRF-Token"] = csrf;
      req.credentials = "same-origin";
      return req;
    },
  });
})();
