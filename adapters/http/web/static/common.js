// Shared by the pages' scripts: the CSRF token of this page's session, sent with every fetch that changes state.
"use strict";
window.Web = {
  csrf: function () {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  },
  // fetch() with the session cookie and the CSRF header; JSON bodies as JSON.
  send: function (method, url, body, extra) {
    var init = Object.assign({method: method, credentials: "same-origin",
                              headers: {"X-CSRF-Token": Web.csrf(), "Accept": "application/json"}}, extra || {});
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init);
  }
};
