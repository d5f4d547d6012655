// Atrium console: progressive enhancements. Every page works without this
// script; it only refreshes live parts and streams logs.
(function () {
  "use strict";

  // <div data-poll="url" data-every="ms">: replace the contents with the
  // fragment at url until the server marks it final (X-Atrium-Final).
  document.querySelectorAll("[data-poll]").forEach(function (el) {
    var every = parseInt(el.dataset.every || "3000", 10);
    var tick = function () {
      fetch(el.dataset.poll, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (r) {
          if (!r.ok) { throw new Error(r.status); }
          var final = r.headers.get("X-Atrium-Final") === "1";
          return r.text().then(function (html) {
            el.innerHTML = html;
            if (final) {
              el.removeAttribute("aria-busy");
              document.dispatchEvent(new CustomEvent("atrium:final"));
            } else {
              setTimeout(tick, every);
            }
          });
        })
        .catch(function () { setTimeout(tick, every * 3); });
    };
    setTimeout(tick, every);
  });

  // <pre data-sse="url">: append each server-sent line.
  document.querySelectorAll("[data-sse]").forEach(function (el) {
    var start = function () {
      var es = new EventSource(el.dataset.sse);
      var stick = true;
      el.addEventListener("scroll", function () {
        stick = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
      });
      es.onmessage = function (e) {
        if (el.dataset.empty !== "no") { el.textContent = ""; el.dataset.empty = "no"; }
        el.appendChild(document.createTextNode(e.data + "\n"));
        if (stick) { el.scrollTop = el.scrollHeight; }
      };
      es.addEventListener("end", function () { es.close(); el.setAttribute("data-ended", "1"); });
      es.addEventListener("failure", function (e) {
        es.close();
        var note = document.createElement("span");
        note.className = "muted";
        note.textContent = "(" + e.data + ")";
        if (el.dataset.empty !== "no") { el.textContent = ""; el.dataset.empty = "no"; }
        el.appendChild(note);
        // Pods that have not started yet: try again shortly.
        if (!el.dataset.final) { setTimeout(function () { el.removeChild(note); start(); }, 2000); }
      });
      es.onerror = function () { es.close(); };
    };
    document.addEventListener("atrium:final", function () { el.dataset.final = "1"; });
    start();
  });

  // <select data-autosubmit>: submit its form on change (a button remains
  // for keyboard and no-script users).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });

  // <form data-confirm="question">: ask before destructive actions.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.dataset.confirm)) { e.preventDefault(); }
    });
  });
})();
