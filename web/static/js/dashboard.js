/* The dashboard's charts (Chart.js, vendored): cases by month and by squad (bars: closed and in
 * progress; line: rates in %), findings by category (bars by review status; line: valid report
 * rate), flying by month (sorties; km). Data and labels from the page (#dashboard-data,
 * #dashboard-labels, built by web.views.dashboard). */
(function () {
  'use strict';
  var dataEl = document.getElementById('dashboard-data');
  var labelEl = document.getElementById('dashboard-labels');
  if (!dataEl || !labelEl || !window.Chart) { return; }
  var data = JSON.parse(dataEl.textContent);
  var L = JSON.parse(labelEl.textContent);
  var COLORS = { closed: '#1a7f37', in_progress: '#bf8700', confirmed: '#1a7f37', rejected: '#cf222e',
    'new': '#8c959f', rate: '#0969da', rate2: '#8250df', sorties: '#0969da', km: '#bc4c00' };

  function bar(label, values, color, stack, axis) {
    return { type: 'bar', label: label, data: values, backgroundColor: color, borderWidth: 0,
      stack: stack || 'a', yAxisID: axis || 'y' };
  }
  function line(label, values, color, axis) {
    return { type: 'line', label: label, data: values, borderColor: color, backgroundColor: color,
      yAxisID: axis || 'pct', spanGaps: true, tension: 0.2, pointRadius: 3 };
  }
  function draw(id, labels, datasets, yTitle, y2) {
    var canvas = document.getElementById(id);
    if (!canvas) { return null; }
    var scales = { x: { stacked: true },
      y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: yTitle } } };
    if (y2) {
      scales[y2.id] = { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false },
        title: { display: true, text: y2.title } };
      if (y2.max) { scales[y2.id].max = y2.max; }
    }
    var chart = new window.Chart(canvas, { data: { labels: labels, datasets: datasets },
      options: { animation: false, maintainAspectRatio: false, scales: scales,
        plugins: { legend: { position: 'bottom' } } } });
    canvas.dataset.ready = 'true';
    return chart;
  }
  var pct = { id: 'pct', title: L.percent, max: 100 };
  var cm = data.cases_by_month;
  var cs = data.cases_by_squad;
  var fc = data.findings_by_category;
  var fm = data.flights_by_month;
  window.patrolDashboardCharts = [
    draw('chart-cases-month', cm.labels, [
      bar(L.closed, cm.closed, COLORS.closed), bar(L.in_progress, cm.in_progress, COLORS.in_progress),
      line(L.timely_closure_rate, cm.timely_closure_rate, COLORS.rate),
      line(L.closure_rate, cm.closure_rate, COLORS.rate2)], L.cases, pct),
    draw('chart-cases-squad', cs.labels, [
      bar(L.closed, cs.closed, COLORS.closed), bar(L.in_progress, cs.in_progress, COLORS.in_progress),
      line(L.timely_closure_rate, cs.timely_closure_rate, COLORS.rate),
      line(L.rework_rate, cs.rework_rate, COLORS.rate2)], L.cases, pct),
    draw('chart-findings', fc.labels, [
      bar(L.confirmed, fc.confirmed, COLORS.confirmed), bar(L.rejected, fc.rejected, COLORS.rejected),
      bar(L['new'], fc['new'], COLORS['new']),
      line(L.valid_report_rate, fc.valid_report_rate, COLORS.rate)], L.findings, pct),
    draw('chart-flights', fm.labels, [
      bar(L.sorties, fm.sorties, COLORS.sorties, 's'),
      line(L.distance_km, fm.distance_km, COLORS.km, 'km')], L.sorties, { id: 'km', title: 'km' })
  ];
}());
