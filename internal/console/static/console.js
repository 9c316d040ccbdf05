// Progressive enhancement only: every page works without script.
(function () {
  "use strict";
  // The sign-in link carries its secret in the URL fragment, which never
  // reaches a server; copy it into the form and drop it from the address bar.
  var token = document.getElementById("token");
  if (token && location.hash.length > 1) {
    token.value = decodeURIComponent(location.hash.slice(1));
    history.replaceState(null, "", location.pathname);
    var signin = document.getElementById("signin");
    if (signin) { signin.focus(); }
  }
  // "Select all" for the batch change.
  var all = document.getElementById("select-all");
  if (all) {
    var picks = document.querySelectorAll("input.pick");
    all.hidden = picks.length === 0;
    all.addEventListener("change", function () {
      picks.forEach(function (p) { p.checked = all.checked; });
    });
  }
  // Move focus to an error or to the results so screen readers announce them.
  var target = document.getElementById("problem") || document.getElementById("results-h");
  if (target) { target.setAttribute("tabindex", "-1"); target.focus(); }
})();
