// Print pages: open the print dialog when a Print button brought us here (<body data-autoprint>).
// No inline scripts (the CSP forbids them).
(function () {
  "use strict";
  if (document.body.hasAttribute("data-autoprint")) {
    window.print();
  }
})();
