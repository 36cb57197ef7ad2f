/* The statistics chart: stacked bars per period, one dataset per vehicle/squad, metric chosen
 * in #stats-metric. Data from the page (#stats-data, built by web.views.fleet._chart). */
(function () {
  'use strict';
  var canvas = document.getElementById('stats-chart');
  var dataEl = document.getElementById('stats-data');
  if (!canvas || !dataEl || !window.Chart) { return; }
  var data = JSON.parse(dataEl.textContent);
  var select = document.getElementById('stats-metric');
  var COLORS = ['#0969da', '#cf222e', '#1a7f37', '#bf8700', '#8250df', '#1b7c83', '#d1242f', '#57606a',
    '#bc4c00', '#4d2d8c', '#0550ae', '#116329'];
  var _ = window.PatrolI18n.gettext;
  var UNITS = { sorties: _('sorties'), flight_hours: 'h', distance_km: 'km', photos: _('photos') };
  var COUNTS = { sorties: true, photos: true };   // whole numbers on the axis

  function datasets(metric) {
    return data.datasets.map(function (d, i) {
      return { label: d.label, data: d[metric], backgroundColor: COLORS[i % COLORS.length], borderWidth: 0 };
    });
  }

  var chart = new window.Chart(canvas, {
    type: 'bar',
    data: { labels: data.labels, datasets: datasets(select.value) },
    options: {
      animation: false, maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true,
        ticks: { precision: COUNTS[select.value] ? 0 : undefined },
        title: { display: true, text: UNITS[select.value] } } },
      plugins: { legend: { position: 'bottom' } }
    }
  });
  select.addEventListener('change', function () {
    chart.data.datasets = datasets(select.value);
    chart.options.scales.y.title.text = UNITS[select.value];
    chart.options.scales.y.ticks.precision = COUNTS[select.value] ? 0 : undefined;
    chart.update();
  });
  window.patrolStatsChart = chart;
  canvas.dataset.ready = 'true';
}());
