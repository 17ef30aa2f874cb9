// The pay page: start the payment through the JSON API, show what this screen can pay with (the Native QR, the
// WeixinJSBridge button inside WeChat, the H5 link), and watch the order until the notify has settled it.
"use strict";
(function () {
  var root = document.getElementById("pay");
  if (!root) { return; }
  var orderId = root.dataset.order, method = root.dataset.method;
  var api = "/api/v1/orders/" + encodeURIComponent(orderId);
  var polls = 0, watching = false, bridgeParams = null;

  function show(state) {
    root.querySelectorAll("[data-state]").forEach(function (el) {
      el.hidden = el.getAttribute("data-state") !== state;
    });
  }
  function waiting(on) {
    var el = root.querySelector("[data-state-also=waiting]");
    if (el) { el.hidden = !on; }
  }
  function fail(text) {
    var el = document.getElementById("pay-error");
    if (el) { el.textContent = text; el.hidden = false; }
  }
  function settled(order) {
    if (order.status === "paid") { show("paid"); waiting(false); return true; }
    if (["expired", "cancelled", "refunded"].indexOf(order.status) >= 0) { show("closed"); waiting(false); return true; }
    return false;
  }
  // The notify settles the order; every 5th look also asks WeChat Pay (a notify may be late or lost).
  function watch() {
    if (watching) { return; }
    watching = true;
    (function look() {
      polls += 1;
      Web.send("GET", api + (polls % 5 === 0 ? "?check_payment=true" : ""))
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (order) {
          if (!order || !settled(order)) { setTimeout(look, 1500); }
        })
        .catch(function () { setTimeout(look, 3000); });
    })();
  }
  function invokeBridge() {
    window.WeixinJSBridge.invoke("getBrandWCPayRequest", bridgeParams, function (res) {
      var said = (res && res.err_msg) || "";
      if (said === "get_brand_wcpay_request:ok") { waiting(true); watch(); }
      else if (said === "get_brand_wcpay_request:cancel") { fail(root.dataset.textCancelled); }
      else { fail(root.dataset.textFailed + " " + said); }
    });
  }
  function payInWeChat() {
    if (window.WeixinJSBridge && window.WeixinJSBridge.invoke) { invokeBridge(); return; }
    // The bridge arrives a little after the page inside WeChat; outside WeChat it never does.
    document.addEventListener("WeixinJSBridgeReady", invokeBridge, false);
    setTimeout(function () { if (!window.WeixinJSBridge) { fail(root.dataset.textNoBridge); } }, 3000);
  }
  function started(answer) {
    if (answer.jsapi) {
      bridgeParams = answer.jsapi;
      show("jsapi");
      document.getElementById("pay-jsapi").addEventListener("click", payInWeChat);
    } else if (answer.h5_url) {
      var back = location.href;
      var link = document.getElementById("pay-h5");
      link.href = answer.h5_url + (answer.h5_url.indexOf("?") >= 0 ? "&" : "?") + "redirect_url=" + encodeURIComponent(back);
      show("h5");
    } else {
      var img = document.getElementById("pay-qr");
      img.src = "/web/pay/" + encodeURIComponent(orderId) + "/qrcode.png?t=" + Date.now();
      show("qr");
    }
    watch();
  }

  if (root.dataset.status === "paid" || !method) { return; }
  Web.send("POST", api + "/pay", {payment_method: method})
    .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); })
    .then(function (res) {
      if (res.ok) { started(res.body); return; }
      show("none");
      fail((res.body.error && res.body.error.message) || root.dataset.textFailed);
      if (res.body.error && res.body.error.reason === "invalid_state") { watch(); }
    })
    .catch(function () { show("none"); fail(root.dataset.textFailed); });
})();
