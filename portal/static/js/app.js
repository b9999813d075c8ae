// Small behaviours; no framework, no inline scripts (the CSP forbids them).
(function () {
  "use strict";

  function fallbackCopy(text) {
    // WeChat's browser and plain-http pages may lack navigator.clipboard.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "skip";
    document.body.appendChild(area);
    area.select();
    area.setSelectionRange(0, text.length);
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-text]");
    if (button) {
      var status = document.getElementById(button.getAttribute("aria-describedby"));
      copyText(button.getAttribute("data-copy-text")).then(function () {
        if (status) { status.textContent = button.getAttribute("data-copied-label"); }
      }, function () {
        if (status) { status.textContent = button.getAttribute("data-failed-label"); }
      });
      return;
    }
    var dismiss = event.target.closest("[data-dismiss]");
    if (dismiss) {
      var box = dismiss.closest(".flash");
      if (box) { box.remove(); }
    }
  });
})();
