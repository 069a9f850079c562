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
