// The /web link page: press its one button for the visitor. A link preview (which runs no script) spends nothing.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("link-form");
  if (form && !sessionStorage.getItem("link-sent:" + form.elements.token.value)) {
    sessionStorage.setItem("link-sent:" + form.elements.token.value, "1");
    form.submit();
  }
});
