// The WeChat login QR: ask for one, draw it, poll until the scanner confirms in WeChat, then go on.
"use strict";
(function () {
  var box = document.getElementById("qr-login");
  if (!box) { return; }
  var image = document.getElementById("qr-image");
  var status = document.getElementById("qr-status");
  var refresh = document.getElementById("qr-refresh");
  var timer = null;

  function say(key) { status.textContent = box.dataset["text" + key]; }

  function stop(key) {
    clearTimeout(timer);
    say(key);
    image.classList.add("faded");
    refresh.hidden = false;
  }

  function poll() {
    Web.send("POST", box.dataset.poll).then(function (r) { return r.json(); }).then(function (answer) {
      if (answer.status === "ok") { window.location.assign(answer.next); return; }
      if (answer.status === "expired") { stop("Expired"); return; }
      say(answer.status === "scanned" ? "Scanned" : "Pending");
      timer = setTimeout(poll, 2000);
    }).catch(function () { timer = setTimeout(poll, 4000); });
  }

  function start() {
    refresh.hidden = true;
    image.classList.remove("faded");
    Web.send("POST", box.dataset.start).then(function (r) {
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.json();
    }).then(function (answer) {
      image.src = answer.image;
      image.hidden = false;
      say("Pending");
      timer = setTimeout(poll, 2000);
    }).catch(function () { stop("Failed"); });
  }

  refresh.addEventListener("click", start);
  start();
})();
