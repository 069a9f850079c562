// Charts are drawn while the page is still being parsed, before the grid
// knows all its columns: size them again once the page is laid out, and
// whenever the window changes size (a laptop or a wall display).
(function () {
  "use strict";
  function resizeAll() {
    if (!window.echarts) { return; }
    document.querySelectorAll("div.item[_echarts_instance_]").forEach(function (el) {
      var chart = window.echarts.getInstanceByDom(el);
      if (chart) { chart.resize(); }
    });
  }
  window.addEventListener("load", resizeAll);
  var timer = null;
  window.addEventListener("resize", function () {
    clearTimeout(timer);
    timer = setTimeout(resizeAll, 150);
  });
  document.addEventListener("toggle", resizeAll, true);
})();

// New data (a sync, a Jira webhook) changes the data version: the page
// says so and offers the new numbers, without reloading under a reader;
// a page nobody is looking at reloads by itself.
(function () {
  "use strict";
  var drawn = document.body && document.body.getAttribute("data-version");
  if (!drawn || !window.fetch) { return; }
  var shown = false;
  // The version of the views of the page's project: a change elsewhere
  // does not offer new numbers.
  var project = new URLSearchParams(location.search).get("project");
  var url = "/api/v1/version" + (project ? "?project=" + encodeURIComponent(project) : "");
  function offer() {
    if (document.hidden) { location.reload(); return; }
    if (shown) { return; }
    shown = true;
    var bar = document.createElement("div");
    bar.className = "newdata";
    bar.setAttribute("role", "status");
    bar.innerHTML = "Jira's data changed since this page was drawn. <a href=\"\">Show the new numbers</a>";
    bar.querySelector("a").addEventListener("click", function (e) { e.preventDefault(); location.reload(); });
    document.body.insertBefore(bar, document.body.firstChild);
  }
  function check() {
    fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (v) { if (v && v.version && v.version !== drawn) { offer(); } })
      .catch(function () {});
  }
  setInterval(check, 10000);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { check(); } });
})();
