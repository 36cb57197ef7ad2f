/* The dashboard's charts (Chart.js, vendored): cases by month (bars: closed and in progress;
 * line: rates in %), cases by squad (horizontal bars, so long squad names stay readable: names
 * cut to MAX_LABEL characters on the axis, whole in the tooltip), findings by category (bars by
 * review status; line: valid report rate), flying by month (sorties; km). Data from the page
 * (#dashboard-data, built by web.views.dashboard); texts through window.PatrolI18n. */
(function () {
  'use strict';
  var _ = window.PatrolI18n ? window.PatrolI18n.gettext : function (s) { return s; };
  var dataEl = document.getElementById('dashboard-data');
  if (!dataEl || !window.Chart) { return; }
  var data = JSON.parse(dataEl.textContent);
  var MAX_LABEL = 14;
  var L = {
    closed: _('closed'), in_progress: _('in progress'), timely_closure_rate: _('timely-closure rate'),
    closure_rate: _('closure rate'), rework_rate: _('rework rate'), confirmed: _('confirmed'),
    rejected: _('rejected'), 'new': _('to review'), valid_report_rate: _('valid report rate'),
    sorties: _('sorties'), distance_km: _('kilometres'), cases: _('cases'), findings: _('findings'),
    percent: '%', km: 'km'
  };
  var COLORS = { closed: '#1a7f37', in_progress: '#bf8700', confirmed: '#1a7f37', rejected: '#cf222e',
    'new': '#8c959f', rate: '#0969da', rate2: '#8250df', sorties: '#0969da', km: '#bc4c00' };

  function bar(label, values, color, stack, axis) {
    return { type: 'bar', label: label, data: values, backgroundColor: color, borderWidth: 0,
      stack: stack || 'a', valueAxis: axis || 'value' };
  }
  function line(label, values, color, axis) {
    return { type: 'line', label: label, data: values, borderColor: color, backgroundColor: color,
      valueAxis: axis || 'pct', spanGaps: true, tension: 0.2, pointRadius: 3 };
  }
  function shorten(text) {
    text = String(text);
    return text.length > MAX_LABEL ? text.slice(0, MAX_LABEL - 1) + '\u2026' : text;
  }
  /* Bars stacked on the category axis, counts on the value axis, the rates (y2) on a second
   * value axis; horizontal: categories down the left, values along the bottom (rates on top). */
  function draw(id, labels, datasets, yTitle, y2, horizontal) {
    var canvas = document.getElementById(id);
    if (!canvas) { return null; }
    var cat = horizontal ? 'y' : 'x';
    var val = horizontal ? 'x' : 'y';
    var scales = {};
    scales[cat] = { stacked: true };
    scales[val] = { stacked: true, beginAtZero: true, ticks: { precision: 0 },
      title: { display: true, text: yTitle } };
    if (horizontal) {
      var names = labels;
      scales[cat].ticks = { autoSkip: false,
        callback: function (value) { return shorten(names[value]); } };
    }
    if (y2) {
      scales[y2.id] = { axis: val, position: horizontal ? 'top' : 'right', beginAtZero: true,
        grid: { drawOnChartArea: false }, title: { display: true, text: y2.title } };
      if (y2.max) { scales[y2.id].max = y2.max; }
    }
    datasets.forEach(function (d) {
      var axis = d.valueAxis;
      delete d.valueAxis;
      d[cat + 'AxisID'] = cat;
      d[val + 'AxisID'] = axis === 'value' ? val : axis;
    });
    var chart = new window.Chart(canvas, { data: { labels: labels, datasets: datasets },
      options: { animation: false, maintainAspectRatio: false, scales: scales,
        indexAxis: cat, plugins: { legend: { position: 'bottom' } } } });
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
      line(L.rework_rate, cs.rework_rate, COLORS.rate2)], L.cases, pct, true),
    draw('chart-findings', fc.labels, [
      bar(L.confirmed, fc.confirmed, COLORS.confirmed), bar(L.rejected, fc.rejected, COLORS.rejected),
      bar(L['new'], fc['new'], COLORS['new']),
      line(L.valid_report_rate, fc.valid_report_rate, COLORS.rate)], L.findings, pct),
    draw('chart-flights', fm.labels, [
      bar(L.sorties, fm.sorties, COLORS.sorties, 's'),
      line(L.distance_km, fm.distance_km, COLORS.km, 'km')], L.sorties, { id: 'km', title: L.km })
  ];
}());
