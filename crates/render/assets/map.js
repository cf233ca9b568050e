// pktmap's live map: every 2 s, fetch the map fragment for the chosen namespace and stage and
// swap it in; no fetch while the tab is hidden; the age of the data shown. Without script the
// page refreshes itself every 10 s (a <noscript> refresh) and the boxes are plain links.
"use strict";
(function () {
  var map = document.getElementById("live");
  var age = document.getElementById("age");
  if (!map || !age) {
    return;
  }
  var params = new URLSearchParams(window.location.search);
  var loaded = Date.now();

  function fragmentUrl() {
    var q = new URLSearchParams(params);
    q.set("fragment", "1");
    return "/?" + q.toString();
  }

  function showAge() {
    var s = Math.round((Date.now() - loaded) / 1000);
    age.textContent = s < 3 ? "live" : "data " + s + " s old";
    age.className = s > 10 ? "stale" : "";
  }

  function refresh() {
    if (document.hidden) {
      return;
    }
    fetch(fragmentUrl(), { cache: "no-store" })
      .then(function (r) {
        if (!r.ok) {
          throw new Error(r.status);
        }
        return r.text();
      })
      .then(function (html) {
        map.innerHTML = html;
        // Counted on the element, so a test in a real browser can tell the refresh ran.
        map.dataset.refreshed = String(Number(map.dataset.refreshed || 0) + 1);
        loaded = Date.now();
        showAge();
      })
      .catch(function () {
        showAge();
      });
  }

  // A box opens its stage in place instead of reloading the page.
  map.addEventListener("click", function (e) {
    var a = e.target.closest ? e.target.closest("a[data-stage]") : null;
    if (!a) {
      return;
    }
    e.preventDefault();
    params.set("stage", a.getAttribute("data-stage"));
    history.replaceState(null, "", "/?" + params.toString());
    refresh();
  });

  // Commands copy with one click.
  map.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("button[data-copy]") : null;
    if (b && navigator.clipboard) {
      navigator.clipboard.writeText(b.getAttribute("data-copy"));
      b.textContent = "copied";
    }
  });

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      refresh();
    }
  });
  setInterval(refresh, 2000);
  setInterval(showAge, 1000);
  showAge();
})();
