// The chat page: send a message to the JSON API, show the answer as it streams (server-sent events read from a
// fetch body), stop it, rate it. The page's session cookie and CSRF token are the credentials.
"use strict";
(function () {
  var thread = document.getElementById("thread");
  if (!thread) { return; }
  var api = "/api/v1/conversations/" + thread.dataset.conversation;
  var list = document.getElementById("messages");
  var form = document.getElementById("composer");
  var prompt = document.getElementById("prompt");
  var send = document.getElementById("send");
  var stop = document.getElementById("stop");
  var failure = document.getElementById("chat-error");
  var current = null;   // {mid, bubble}

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function bubble(role) {
    var empty = document.getElementById("empty");
    if (empty) { empty.remove(); }
    var li = el("li", "msg " + role);
    li.appendChild(el("div", "content"));
    list.appendChild(li);
    li.scrollIntoView({block: "end"});
    return li;
  }

  function rateButton(rating, label, icon, alt, pressed) {
    var b = el("button", "rate");
    var img = el("img");
    img.src = "/web/static/" + icon;
    img.alt = alt;
    img.width = 18;
    img.height = 18;
    b.appendChild(img);
    b.type = "button";
    b.dataset.rating = String(rating);
    b.setAttribute("aria-label", label);
    b.setAttribute("aria-pressed", pressed ? "true" : "false");
    return b;
  }

  // The finished answer, as the server stored it: status, sources, 👍/👎.
  function finish(li, message) {
    li.classList.remove("streaming");
    li.dataset.mid = message.id;
    li.dataset.status = message.status;
    li.querySelector(".content").textContent = message.content;
    if (message.status !== "complete") {
      li.appendChild(el("div", "status", message.status === "cancelled" ? thread.dataset.textStopped
                                                                         : thread.dataset.textError));
    }
    if (message.citations && message.citations.length) {
      li.appendChild(el("div", "sources-label", thread.dataset.textSources));
      var ol = el("ol", "sources");
      ol.setAttribute("aria-label", thread.dataset.textSources);
      message.citations.forEach(function (c) {
        var item = el("li");
        item.title = c.snippet;
        item.appendChild(el("strong", "", c.title));
        item.appendChild(document.createTextNode(" "));
        item.appendChild(el("span", "snippet", c.snippet));
        ol.appendChild(item);
      });
      li.appendChild(ol);
    }
    var meta = el("div", "meta");
    meta.appendChild(rateButton(1, thread.dataset.textGood, "thumb-up.svg", "👍", message.feedback === 1));
    meta.appendChild(rateButton(-1, thread.dataset.textBad, "thumb-down.svg", "👎", message.feedback === -1));
    li.appendChild(meta);
  }

  // An untitled conversation is named after its first exchange: show the name the server gave it.
  function refreshTitle() {
    if (thread.dataset.titled === "1") { return; }
    Web.send("GET", api).then(function (r) { return r.ok ? r.json() : null; }).then(function (conversation) {
      if (!conversation || !conversation.title) { return; }
      thread.dataset.titled = "1";
      document.getElementById("conversation-title").textContent = conversation.title;
      var here = document.querySelector(".conversations a[aria-current=page]");
      if (here) { here.textContent = conversation.title; }
      var field = document.querySelector("#rename-form input[name=title]");
      if (field && !field.value) { field.value = conversation.title; }
    });
  }

  function busy(on) {
    send.disabled = on;
    prompt.disabled = on;
    stop.hidden = !on;
    stop.disabled = false;
  }

  function showError(text) {
    failure.textContent = text;
    failure.hidden = !text;
  }

  // Server-sent events out of a fetch body: blocks separated by a blank line, `event:` and `data:` lines.
  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) { return; }
        buffer += decoder.decode(chunk.value, {stream: true}).replace(/\r\n/g, "\n");
        var cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          var block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          var name = "message", data = [];
          block.split("\n").forEach(function (line) {
            if (line.indexOf("event:") === 0) { name = line.slice(6).trim(); }
            else if (line.indexOf("data:") === 0) { data.push(line.slice(5).replace(/^ /, "")); }
          });
          if (data.length) { onEvent(name, JSON.parse(data.join("\n"))); }
        }
        return pump();
      });
    }
    return pump();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = prompt.value.trim();
    if (!text || current) { return; }
    showError("");
    var mine = bubble("user");
    mine.querySelector(".content").textContent = text;
    var answer = bubble("assistant");
    answer.classList.add("streaming");
    var content = answer.querySelector(".content");
    current = {mid: null, bubble: answer};
    busy(true);
    Web.send("POST", api + "/messages", {content: text, stream: true},
             {headers: {"X-CSRF-Token": Web.csrf(), "Accept": "text/event-stream",
                        "Content-Type": "application/json"}})
      .then(function (response) {
        if (!response.ok) {
          return response.json().then(function (body) { throw new Error(body.error ? body.error.message : ""); });
        }
        prompt.value = "";
        current.mid = response.headers.get("X-Message-Id");
        return readEvents(response, function (name, data) {
          if (name === "delta") {
            content.textContent += data.content;
            answer.scrollIntoView({block: "end"});
          } else if (name === "done") {
            finish(answer, data);
            refreshTitle();
          } else if (name === "error") {
            answer.classList.remove("streaming");
            showError(data.error ? data.error.message : thread.dataset.textError);
          }
        });
      })
      .catch(function (error) {
        answer.remove();
        showError(error.message || thread.dataset.textError);
      })
      .then(function () {
        answer.classList.remove("streaming");
        current = null;
        busy(false);
        prompt.focus();
      });
  });

  prompt.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  stop.addEventListener("click", function () {
    if (!current || !current.mid) { return; }
    stop.disabled = true;
    Web.send("POST", api + "/messages/" + current.mid + "/stop");
  });

  list.addEventListener("click", function (event) {
    var button = event.target.closest("button.rate");
    if (!button) { return; }
    var li = button.closest(".msg");
    var pressed = button.getAttribute("aria-pressed") === "true";
    var rating = pressed ? 0 : Number(button.dataset.rating);
    Web.send("POST", "/api/v1/messages/" + li.dataset.mid + "/feedback", {rating: rating}).then(function (r) {
      if (!r.ok) { return; }
      li.querySelectorAll("button.rate").forEach(function (b) {
        b.setAttribute("aria-pressed", Number(b.dataset.rating) === rating ? "true" : "false");
      });
    });
  });

  var deleting = document.getElementById("delete-form");
  if (deleting) {
    deleting.addEventListener("submit", function (event) {
      if (!window.confirm(deleting.dataset.confirm || "?")) { event.preventDefault(); }
    });
  }
})();
