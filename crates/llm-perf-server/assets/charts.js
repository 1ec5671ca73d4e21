// llm-perf chart glue: renders the Apache ECharts options that the server (or a report)
// embeds as <script type="application/json"> blocks, in the browser's light or dark theme.
// A chart element is `<div class="chart" data-option="ID">` with the option in element ID;
// after rendering it carries data-ready="1" and data-points="N" (points in its series).
(function () {
  'use strict';
  var media = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;
  var live = [];

  function themeName() {
    return media && media.matches ? 'dark' : null;
  }

  function countPoints(chart) {
    var n = 0;
    (chart.getOption().series || []).forEach(function (s) {
      n += (s.data || []).length;
    });
    return n;
  }

  function render(el, option) {
    var chart = echarts.init(el, themeName(), { renderer: 'svg' });
    chart.setOption(option);
    live.push({ el: el, option: option, chart: chart });
    el.setAttribute('data-points', String(countPoints(chart)));
    el.setAttribute('data-ready', '1');
    if (window.ResizeObserver) {
      new ResizeObserver(function () { chart.resize(); }).observe(el);
    }
    return chart;
  }

  function renderAll(root) {
    (root || document).querySelectorAll('.chart[data-option]').forEach(function (el) {
      if (el.getAttribute('data-ready') === '1') { return; }
      var source = document.getElementById(el.getAttribute('data-option'));
      if (source) { render(el, JSON.parse(source.textContent)); }
    });
  }

  // Replaces the content of `container` with one chart per {id, title, option}.
  function show(container, charts) {
    container.textContent = '';
    charts.forEach(function (c) {
      var figure = document.createElement('figure');
      figure.className = 'chart-box';
      var el = document.createElement('div');
      el.className = 'chart';
      el.id = c.id;
      figure.appendChild(el);
      container.appendChild(figure);
      render(el, c.option);
    });
  }

  // A theme change re-creates each chart in the new theme (same option, same element).
  if (media && media.addEventListener) {
    media.addEventListener('change', function () {
      live.forEach(function (entry) {
        entry.chart.dispose();
        entry.chart = echarts.init(entry.el, themeName(), { renderer: 'svg' });
        entry.chart.setOption(entry.option);
      });
    });
  }

  window.llmPerfCharts = { renderAll: renderAll, show: show };
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', function () { renderAll(document); });
  } else {
    renderAll(document);
  }
})();
