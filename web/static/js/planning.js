/* The planning page: draw, upload or pick the area, no-fly zones and home (Leaflet-Geoman),
 * preview the planned route (POST /api/planning/preview) with its statistics, and save it
 * (POST /api/planning/save). State for tests and the console: window.patrolPlanner. */
(function () {
  'use strict';
  var el = document.getElementById('plan-map');
  if (!el) { return; }
  var PL = window.PatrolLayers;
  var esc = PL.esc;
  var _ = window.PatrolI18n.gettext;
  var cfg = JSON.parse(el.dataset.config);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var form = document.getElementById('plan-form');
  function $(id) { return document.getElementById(id); }

  var KIND_OF_PATTERN = { survey: 'area', corridor: 'corridor', orbit: 'hotspot' };
  var PATTERN_OF_KIND = { area: 'survey', corridor: 'corridor', hotspot: 'orbit' };
  var GEOMETRY_OF_KIND = { area: ['Polygon', 'MultiPolygon'], corridor: ['LineString'], hotspot: ['Point'] };
  var DRAW_SHAPE = { survey: 'Polygon', corridor: 'Line', orbit: 'CircleMarker' };
  var DRAW_LABEL = { survey: _('Draw area'), corridor: _('Draw corridor line'), orbit: _('Place orbit centre') };
  var KIND_LABEL = { area: _('area'), corridor: _('corridor'), hotspot: _('hotspot') };
  var PATTERN_LABEL = { survey: _('survey'), corridor: _('corridor'), orbit: _('orbit') };
  var TARGET_STYLE = { color: '#0969da', weight: 3, fillOpacity: 0.06 };
  var NOFLY_STYLE = { color: '#cf222e', weight: 2, fillColor: '#cf222e', fillOpacity: 0.25 };
  var ROLE_STYLE = {
    geofence: { color: '#bf8700', weight: 1.5, dashArray: '8 6', fill: false },
    no_fly: { color: '#cf222e', weight: 1, fillColor: '#cf222e', fillOpacity: 0.15 },
    coverage: { color: '#1a7f37', weight: 0, fillColor: '#1a7f37', fillOpacity: 0.12 },
    footprint: { color: '#8250df', weight: 0.6, opacity: 0.45, fill: false },
    pass: { color: '#0969da', weight: 5, opacity: 0.35 },
    path: { color: '#1f2328', weight: 1.8, opacity: 0.9 },
    sortie: { weight: 3, opacity: 0.8 },
    photos: { color: '#8250df', weight: 0, fillColor: '#8250df', fillOpacity: 0.9, radius: 2 },
    rally: { color: '#ffffff', weight: 2, fillColor: '#1a7f37', fillOpacity: 1, radius: 6 },
    home: { color: '#ffffff', weight: 2, fillColor: '#1f2328', fillOpacity: 1, radius: 7 }
  };
  var SORTIE_COLORS = ['#cf222e', '#0969da', '#1a7f37', '#bf8700', '#8250df', '#e16f24'];

  var map = L.map(el).setView([20, 0], 2);
  L.control.scale({ imperial: false }).addTo(map);
  if (cfg.basemapUrl) {
    L.tileLayer(cfg.basemapUrl, { maxZoom: 21, attribution: _('basemap: configured tile server') }).addTo(map);
  }
  var photoRenderer = L.canvas({ padding: 0.2 });
  var routeLayer = L.featureGroup().addTo(map);
  var contextLayer = L.featureGroup().addTo(map);
  var legend = L.control({ position: 'bottomright' });
  legend.onAdd = function () {
    var div = L.DomUtil.create('div', 'plan-legend');
    div.innerHTML = [['#0969da', _('area / corridor')], ['#cf222e', _('no-fly zone')], ['#1f2328', _('route')],
      ['#1a7f37', _('photo coverage')], ['#8250df', _('photos')], ['#bf8700', _('geofence')]].map(function (r) {
      return '<div><i style="background:' + r[0] + '"></i>' + esc(r[1]) + '</div>';
    }).join('');
    return div;
  };
  legend.addTo(map);
  map.pm.addControls({
    position: 'topleft', drawMarker: false, drawCircleMarker: false, drawPolyline: false,
    drawRectangle: false, drawPolygon: false, drawCircle: false, drawText: false,
    cutPolygon: false, rotateMode: false, editMode: true, dragMode: true, removalMode: true
  });
  map.pm.setGlobalOptions({ snappable: true, allowSelfIntersection: false });

  var state = {
    map: map, ready: false, busy: false, pending: false, seq: 0, previews: 0,
    target: null, noFly: [], home: null, meta: { name: '', site: '', source: '' },
    drawMode: null, fileFeatures: [], stats: null, problems: [], error: null, route: null,
    counts: {}, saved: null
  };
  window.patrolPlanner = state;

  // ---------------------------------------------------------------- the form
  function field(name) { return form.elements[name]; }
  function pattern() { return $('pattern').value; }
  function number(name) {
    var input = field(name);
    if (!input || input.closest('[hidden]') || input.value.trim() === '') { return null; }
    return Number(input.value);
  }
  function percent(name) { var v = number(name); return v === null ? null : v / 100; }

  function showPatternFields() {
    var p = pattern();
    Array.prototype.forEach.call(form.querySelectorAll('[data-patterns]'), function (label) {
      label.hidden = label.dataset.patterns.split(' ').indexOf(p) < 0;
    });
    var mode = p === 'orbit' ? 'alt' : $('alt-mode').value;
    $('alt-mode').closest('label').hidden = p === 'orbit';
    Array.prototype.forEach.call(form.querySelectorAll('[data-alt-mode]'), function (label) {
      label.hidden = label.dataset.altMode !== mode;
    });
    $('custom-camera').hidden = field('camera').value !== 'custom';
    $('draw-target').textContent = DRAW_LABEL[p];
  }

  function planningRequest() {
    var p = pattern();
    var body = {
      pattern: p, crs: cfg.crs, camera: field('camera').value,
      area: state.target ? state.target.toGeoJSON().geometry : null,
      no_fly: state.noFly.map(function (l) { return l.toGeoJSON().geometry; }),
      home: state.home ? [state.home.getLatLng().lng, state.home.getLatLng().lat] : null,
      speed_m_s: number('speed_m_s'), ceiling_alt_rel_m: number('ceiling_alt_rel_m'),
      endurance_min: number('endurance_min'),
      area_name: $('area-name').value || state.meta.name || _('drawn area')
    };
    if (body.camera === 'custom') {
      body.custom_camera = {};
      ['sensor_width_mm', 'sensor_height_mm', 'focal_length_mm', 'image_width_px', 'image_height_px']
        .forEach(function (k) { body.custom_camera[k] = number(k); });
    }
    if (p === 'orbit') {
      body.alt_rel_m = number('alt_rel_m');
      body.radius_m = number('radius_m');
      body.photos_per_turn = number('photos_per_turn');
      body.orbit_turns = number('orbit_turns');
    } else {
      if ($('alt-mode').value === 'gsd' && body.camera) { body.gsd_cm_px = number('gsd_cm_px'); } else { body.alt_rel_m = number('alt_rel_m'); }
      body.front_overlap = percent('front_overlap');
      body.side_overlap = percent('side_overlap');
      body.turnaround_m = number('turnaround_m');
      body.line_spacing_m = number('line_spacing_m');
      body.photo_mode = field('photo_mode').value;
      if (p === 'survey') { body.sweep_angle_deg = number('sweep_angle_deg'); }
      if (p === 'corridor') { body.width_m = number('width_m'); }
    }
    return body;
  }

  // ---------------------------------------------------------------- messages
  function showError(message) {
    state.error = message || null;
    $('plan-error').textContent = message || '';
    $('plan-error').hidden = !message;
  }
  function status(text) { $('plan-status').textContent = text; }

  function sourceLabel(source) {   // the source is stored with the area: shown translated, kept as is
    if (source.indexOf('uploaded ') === 0) { return _('uploaded %(name)s', { name: source.slice(9) }); }
    return { stored: _('stored'), drawn: _('drawn'), uploaded: _('uploaded') }[source] || source;
  }

  function summary() {
    var parts = [];
    if (state.target) {
      var kind = state.target.options.patrolKind;
      parts.push('<b>' + esc(state.meta.name || _('drawn %(kind)s', { kind: KIND_LABEL[kind] || kind })) + '</b> (' +
        esc(KIND_LABEL[kind] || kind) + (state.meta.source ? ', ' + esc(sourceLabel(state.meta.source)) : '') + ')');
    } else {
      parts.push(esc(_('No area yet.')));
    }
    var holes = 0;
    if (state.target) {
      var g = state.target.toGeoJSON().geometry;
      var polys = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
      polys.forEach(function (rings) { holes += rings.length - 1; });
    }
    parts.push(esc(_('no-fly zones: %(n)s', { n: state.noFly.length })) +
      (holes ? ' + ' + esc(_('holes in the area: %(n)s', { n: holes })) : ''));
    if (state.home) {
      var h = state.home.getLatLng();
      parts.push(esc(_('home %(lat)s, %(lon)s', { lat: h.lat.toFixed(6), lon: h.lng.toFixed(6) })));
    } else {
      parts.push(esc(pattern() === 'orbit' ? _('home: the orbit entry') : _('home: first vertex')));
    }
    $('area-summary').innerHTML = parts.join(' · ');
  }

  // ---------------------------------------------------------------- drawn layers
  function kindOfLayer(layer) {
    var type = layer.toGeoJSON().geometry.type;
    return Object.keys(GEOMETRY_OF_KIND).filter(function (k) { return GEOMETRY_OF_KIND[k].indexOf(type) >= 0; })[0];
  }

  function watch(layer) {
    layer.on('pm:edit pm:dragend', function () {
      if (layer === state.target && state.meta.source === 'stored' && !$('area-name').dataset.edited) {
        $('area-name').value = state.meta.name + ' ' + _('(edited)');
      }
      changed();
    });
  }

  function setTarget(layer, meta) {
    if (state.target) { map.removeLayer(state.target); }
    layer.options.patrolKind = kindOfLayer(layer);
    if (layer.setStyle) { layer.setStyle(layer.options.patrolKind === 'hotspot' ? { color: '#0969da', radius: 9, fillOpacity: 0.5 } : TARGET_STYLE); }
    layer.addTo(map);
    watch(layer);
    state.target = layer;
    state.meta = meta || { name: '', site: '', source: 'drawn' };
    if (!$('area-name').dataset.edited) { $('area-name').value = state.meta.name || defaultAreaName(); }
    if (!$('site').dataset.edited) { $('site').value = state.meta.site || ''; }
    defaultRouteName();
    var p = PATTERN_OF_KIND[layer.options.patrolKind];
    if (p && p !== pattern()) { $('pattern').value = p; showPatternFields(); }
    changed();
  }

  function addNoFly(layer) {
    layer.setStyle(NOFLY_STYLE);
    layer.addTo(map);
    watch(layer);
    state.noFly.push(layer);
    changed();
  }

  function setHome(latlng) {
    if (state.home) { map.removeLayer(state.home); }
    state.home = L.circleMarker(latlng, { color: '#ffffff', weight: 2, fillColor: '#1f2328', fillOpacity: 1, radius: 8 })
      .bindTooltip(_('home')).addTo(map);
    watch(state.home);
    changed();
  }

  function layerOf(geometry, props) {
    var group = L.geoJSON({ type: 'Feature', geometry: geometry, properties: props || {} }, {
      pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 9 }); }
    });
    return group.getLayers()[0];
  }

  function stamp() { return new Date().toISOString().slice(0, 16).replace('T', ' '); }
  function defaultAreaName() { return _('drawn %(kind)s', { kind: KIND_LABEL[KIND_OF_PATTERN[pattern()]] }) + ' ' + stamp(); }
  function defaultRouteName() {
    if ($('route-name').dataset.edited) { return; }
    $('route-name').value = ($('area-name').value || _('route')) + ' · ' + PATTERN_LABEL[pattern()] + ' ' + stamp();
  }

  map.on('pm:create', function (e) {
    var mode = state.drawMode;
    state.drawMode = null;
    setActive(null);
    map.removeLayer(e.layer);
    if (mode === 'nofly') { addNoFly(e.layer); } else { setTarget(e.layer, { name: '', site: '', source: 'drawn' }); }
  });
  map.on('pm:remove', function (e) {
    if (e.layer === state.target) { state.target = null; }
    if (e.layer === state.home) { state.home = null; }
    state.noFly = state.noFly.filter(function (l) { return l !== e.layer; });
    changed();
  });
  map.on('click', function (e) {
    if (state.drawMode !== 'home') { return; }
    state.drawMode = null;
    setActive(null);
    setHome(e.latlng);
  });

  function setActive(button) {
    ['draw-target', 'draw-nofly', 'set-home'].forEach(function (id) {
      $(id).classList.toggle('active', $(id) === button);
    });
  }

  $('draw-target').addEventListener('click', function () {
    state.drawMode = 'target';
    setActive(this);
    map.pm.enableDraw(DRAW_SHAPE[pattern()], { pmIgnore: false });
  });
  $('draw-nofly').addEventListener('click', function () {
    state.drawMode = 'nofly';
    setActive(this);
    map.pm.enableDraw('Polygon', { pmIgnore: false });
  });
  $('set-home').addEventListener('click', function () {
    map.pm.disableDraw();
    state.drawMode = 'home';
    setActive(this);
    $('draw-hint').textContent = _('Click the map where the drone takes off.');
  });
  $('clear-all').addEventListener('click', function () {
    [state.target, state.home].concat(state.noFly).forEach(function (l) { if (l) { map.removeLayer(l); } });
    state.target = null; state.home = null; state.noFly = [];
    state.meta = { name: '', site: '', source: '' };
    routeLayer.clearLayers();
    $('stats-panel').hidden = true;
    $('save-panel').hidden = true;
    showError(null);
    changed();
  });

  // ---------------------------------------------------------------- loading areas
  function fit(layer) {
    var b = layer.getBounds ? layer.getBounds() : L.latLngBounds([layer.getLatLng(), layer.getLatLng()]);
    if (b.isValid()) { map.fitBounds(b.pad(0.3), { maxZoom: 17 }); }
  }

  function useFeature(feature, source) {
    var p = feature.properties || {};
    var kind = p.kind;
    if (p.width_m) { field('width_m').value = p.width_m; }
    if (p.radius_m) { field('radius_m').value = p.radius_m; }
    state.noFly.forEach(function (l) { map.removeLayer(l); });
    state.noFly = [];
    if (kind && PATTERN_OF_KIND[kind]) { $('pattern').value = PATTERN_OF_KIND[kind]; showPatternFields(); }
    delete $('area-name').dataset.edited;
    var layer = layerOf(feature.geometry, p);
    setTarget(layer, { name: p.name || '', site: p.site || '', source: source });
    (p.no_fly_zones || []).forEach(function (g) { addNoFly(layerOf(g)); });
    fit(layer);
  }

  function responseJSON(r) {
    return r.json().catch(function () { return { message: 'HTTP ' + r.status + ' ' + r.statusText }; })
      .then(function (data) { return { ok: r.ok, status: r.status, data: data }; });
  }

  $('upload-file').addEventListener('change', function () {
    var file = this.files[0];
    if (!file) { return; }
    var body = new FormData();
    body.append('file', file);
    body.append('coordinates', $('upload-gcj02').checked ? 'gcj02' : 'wgs84');
    body.append('crs', cfg.crs);
    status(_('reading %(name)s…', { name: file.name }));
    fetch(cfg.uploadUrl, { method: 'POST', body: body, credentials: 'same-origin',
      headers: { 'X-CSRFToken': csrf, Accept: 'application/json' } })
      .then(responseJSON).then(function (res) {
        status('');
        if (!res.ok) { showError(res.data.message || _('upload failed (HTTP %(status)s)', { status: res.status })); return; }
        showError(null);
        state.fileFeatures = res.data.features;
        var select = $('file-features');
        select.innerHTML = res.data.features.map(function (f, i) {
          return '<option value="' + i + '">' + esc(f.properties.name) + ' (' + esc(f.properties.kind) + ')</option>';
        }).join('');
        $('file-features-row').hidden = res.data.features.length < 2;
        useFeature(res.data.features[0], 'uploaded ' + file.name);
      }).catch(function (err) { status(''); showError(_('upload failed: %(error)s', { error: err })); });
  });
  $('use-feature').addEventListener('click', function () {
    var f = state.fileFeatures[Number($('file-features').value)];
    if (f) { useFeature(f, 'uploaded'); }
  });
  $('feature-nofly').addEventListener('click', function () {
    var f = state.fileFeatures[Number($('file-features').value)];
    if (!f) { return; }
    if (f.geometry.type.indexOf('Polygon') < 0) { showError(_('%(name)s is a %(type)s; a no-fly zone must be a polygon', { name: f.properties.name, type: f.geometry.type })); return; }
    addNoFly(layerOf(f.geometry));
  });
  $('stored-area').addEventListener('change', function () {
    if (!this.value) { return; }
    fetch(cfg.areaUrl + this.value + '?crs=' + encodeURIComponent(cfg.crs),
      { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(responseJSON).then(function (res) {
        if (!res.ok) { showError(res.data.message || 'HTTP ' + res.status); return; }
        showError(null);
        useFeature(res.data, 'stored');
      });
  });

  // ---------------------------------------------------------------- preview
  function fmt(value, digits, unit) {
    if (value === null || value === undefined || isNaN(value)) { return '—'; }
    return Number(value).toLocaleString(window.PatrolI18n.lang, { minimumFractionDigits: digits, maximumFractionDigits: digits }) + (unit ? ' ' + unit : '');
  }
  function duration(s) {
    if (s === null || s === undefined) { return '—'; }
    var t = Math.round(s), h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
    return (h ? h + ':' + String(m).padStart(2, '0') : m) + ':' + String(sec).padStart(2, '0');
  }

  function showStats(stats) {
    var rows = [
      [_('Path length'), fmt(stats.path_length_m / 1000, 2, 'km'), 'path_length_m'],
      [_('Est. flight time'), duration(stats.est_flight_time_s) + ' (' + fmt(stats.est_flight_time_s, 0, 's') + ')', 'est_flight_time_s'],
      [_('Photos'), fmt(stats.photo_count, 0), 'photo_count'],
      ['GSD', fmt(stats.gsd_cm_px, 2, 'cm/px'), 'gsd_cm_px'],
      [_('Coverage'), stats.coverage_fraction === undefined ? '—' : fmt(stats.coverage_fraction * 100, 2, '%'), 'coverage_fraction'],
      [_('Turns'), fmt(stats.turns, 0), 'turns'],
      [_('Passes'), fmt(stats.passes, 0), 'passes'],
      [_('Cells'), fmt(stats.cells, 0), 'cells'],
      [_('Sweep angle'), stats.sweep_angles_deg ? stats.sweep_angles_deg.map(function (a) { return fmt(a, 1, '°'); }).join(', ') : '—', 'sweep_angles_deg'],
      [_('Altitude'), fmt(stats.alt_rel_m, 1, 'm'), 'alt_rel_m'],
      [_('Line spacing'), fmt(stats.line_spacing_m, 1, 'm'), 'line_spacing_m'],
      [_('Trigger distance'), fmt(stats.trigger_distance_m, 1, 'm'), 'trigger_distance_m'],
      [_('Area'), stats.area_m2 === undefined ? '—' : fmt(stats.area_m2 / 10000, 2, 'ha'), 'area_m2'],
      [_('Sorties'), fmt(stats.sorties, 0), 'sorties'],
      [_('Planning'), _('%(planning)s (server %(server)s)', { planning: fmt(stats.planning_ms, 0, 'ms'), server: fmt(stats.server_ms, 0, 'ms') }), 'planning_ms']
    ];
    $('stats-body').innerHTML = rows.filter(function (r) { return stats[r[2]] !== undefined; }).map(function (r) {
      return '<tr data-stat="' + r[2] + '"><th>' + esc(r[0]) + '</th><td>' + esc(r[1]) + '</td></tr>';
    }).join('');
  }

  function drawRoute(collection) {
    routeLayer.clearLayers();
    state.counts = {};
    L.geoJSON(collection, {
      pmIgnore: true,
      style: function (f) {
        var role = f.properties.role;
        var s = L.extend({}, ROLE_STYLE[role] || {});
        if (role === 'sortie') { s.color = SORTIE_COLORS[f.properties.index % SORTIE_COLORS.length]; }
        return s;
      },
      pointToLayer: function (f, latlng) {
        var s = L.extend({ pmIgnore: true, interactive: f.properties.role !== 'photos' }, ROLE_STYLE[f.properties.role] || {});
        if (f.properties.role === 'photos') { s.renderer = photoRenderer; }
        return L.circleMarker(latlng, s);
      },
      onEachFeature: function (f, layer) {
        var role = f.properties.role;
        state.counts[role] = (state.counts[role] || 0) + 1;
        if (role === 'home') { layer.bindTooltip(_('home (take-off and return)')); }
        if (role === 'rally') { layer.bindTooltip(_('rally point %(n)s', { n: f.properties.index + 1 })); }
        if (role === 'sortie') { layer.bindTooltip(_('sortie %(n)s', { n: f.properties.index + 1 })); }
        if (role === 'no_fly') { layer.bindTooltip(_('no-fly zone %(n)s', { n: f.properties.index })); }
      }
    }).eachLayer(function (l) { routeLayer.addLayer(l); });
  }

  function showPreview(data) {
    state.stats = data.stats;
    state.problems = data.problems;
    state.route = data.route;
    state.previews += 1;
    drawRoute(data.route);
    showStats(data.stats);
    var sorties = data.sorties || [];
    $('sortie-table').hidden = sorties.length < 2;
    $('sortie-table').tBodies[0].innerHTML = sorties.map(function (r) {
      return '<tr><td>' + esc(r.index) + '</td><td class="num">' + esc(duration(r.est_flight_time_s)) +
        '</td><td class="num">' + esc(fmt(r.path_length_m / 1000, 2, 'km')) + '</td><td class="num">' +
        esc(fmt(r.photo_count, 0)) + '</td></tr>';
    }).join('');
    $('plan-problems').innerHTML = data.problems.map(function (p) { return '<li>' + esc(p) + '</li>'; }).join('');
    $('plan-notes').innerHTML = data.notes.map(function (n) { return '<li>' + esc(n) + '</li>'; }).join('');
    $('stats-panel').hidden = false;
    $('save-panel').hidden = false;
    $('save-btn').disabled = data.problems.length > 0;
    $('save-btn').title = data.problems.length ? _('the plan has safety problems') : '';
  }

  function postJSON(url, body) {
    return fetch(url, {
      method: 'POST', credentials: 'same-origin', body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': csrf }
    }).then(responseJSON);
  }

  function runPreview() {
    clearTimeout(timer);
    state.pending = false;
    if (!state.target) { showError(_('Draw, upload or pick an area first.')); return; }
    var seq = ++state.seq;
    state.busy = true;
    status(_('planning…'));
    postJSON(cfg.previewUrl, planningRequest()).then(function (res) {
      if (seq !== state.seq) { return; }
      state.busy = false;
      if (!res.ok) {
        status('');
        showError(res.data.message || _('preview failed (HTTP %(status)s)', { status: res.status }));
        routeLayer.clearLayers();
        $('stats-panel').hidden = true;
        $('save-panel').hidden = true;
        state.stats = null;
        return;
      }
      showError(null);
      showPreview(res.data);
      status(_('planned in %(time)s', { time: fmt(res.data.stats.server_ms, 0, 'ms') }));
    }).catch(function (err) {
      if (seq !== state.seq) { return; }
      state.busy = false;
      status('');
      showError(_('preview failed: %(error)s', { error: err }));
    });
  }

  var timer = null;
  function changed() {
    summary();
    state.saved = null;
    $('save-result').textContent = '';
    clearTimeout(timer);
    state.pending = false;
    if (state.target && state.target.options.patrolKind === KIND_OF_PATTERN[pattern()]) {
      state.pending = true;
      timer = setTimeout(runPreview, 400);
    }
  }

  $('preview-btn').addEventListener('click', runPreview);
  form.addEventListener('input', changed);
  form.addEventListener('change', function () { showPatternFields(); changed(); });
  $('pattern').addEventListener('change', function () {
    showPatternFields();
    defaultRouteName();
    if (state.target && state.target.options.patrolKind !== KIND_OF_PATTERN[pattern()]) {
      routeLayer.clearLayers();
      $('stats-panel').hidden = true;
      $('save-panel').hidden = true;
      showError({ survey: _('A survey needs an area polygon: draw, upload or pick one.'),
        corridor: _('A corridor needs a line: draw, upload or pick one.'),
        orbit: _('An orbit needs a centre point: place, upload or pick one.') }[pattern()]);
    }
    changed();
  });
  field('camera').addEventListener('change', function () {
    if (this.value !== 'custom') { return; }
    var base = cfg.cameras[0];
    ['sensor_width_mm', 'sensor_height_mm', 'focal_length_mm', 'image_width_px', 'image_height_px'].forEach(function (k) {
      if (!field(k).value) { field(k).value = base[k]; }
    });
  });
  ['route-name', 'area-name', 'site'].forEach(function (id) {
    $(id).addEventListener('input', function () { this.dataset.edited = '1'; });
  });

  // ---------------------------------------------------------------- save
  $('save-btn').addEventListener('click', function () {
    var body = planningRequest();
    body.name = $('route-name').value;
    body.area_name = $('area-name').value;
    body.site = $('site').value;
    body.source = state.meta.source;
    $('save-btn').disabled = true;
    $('save-result').textContent = _('saving…');
    postJSON(cfg.saveUrl, body).then(function (res) {
      $('save-btn').disabled = false;
      if (!res.ok) {
        $('save-result').textContent = '';
        showError(res.data.message || _('save failed (HTTP %(status)s)', { status: res.status }));
        return;
      }
      showError(null);
      state.saved = res.data;
      $('save-result').innerHTML = esc(_('Saved route')) + ' <a id="saved-route-link" href="' + esc(res.data.url) + '">#' +
        esc(res.data.route_id) + ' ' + esc(res.data.name) + '</a> · <a href="' + esc(res.data.plan_url) +
        '" download>' + esc(_('download .plan')) + '</a>';
    }).catch(function (err) {
      $('save-btn').disabled = false;
      showError(_('save failed: %(error)s', { error: err }));
    });
  });

  // ---------------------------------------------------------------- start
  showPatternFields();
  summary();
  PL.fetchJSON(cfg.areasUrl + (cfg.crs !== 'wgs84' ? '?crs=' + encodeURIComponent(cfg.crs) : ''))
    .then(function (data) {
      L.geoJSON(data, {
        pmIgnore: true, interactive: false,
        style: function () { return { color: '#57606a', weight: 1, dashArray: '4 4', fillOpacity: 0.03 }; },
        pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { pmIgnore: true, interactive: false, radius: 5, color: '#57606a', weight: 1 }); }
      }).eachLayer(function (l) { contextLayer.addLayer(l); });
      // open on the site with the most areas (sites lie on different continents)
      var bySite = {};
      contextLayer.eachLayer(function (l) {
        var site = l.feature.properties.site || '';
        (bySite[site] = bySite[site] || []).push(l);
      });
      var best = Object.keys(bySite).sort(function (a, b) { return bySite[b].length - bySite[a].length; })[0];
      var b = best === undefined ? null : L.featureGroup(bySite[best]).getBounds();
      if (b && b.isValid() && !state.target) { map.fitBounds(b, { padding: [20, 20], maxZoom: 16 }); }
    })
    .catch(function (err) { console.warn('stored areas not shown: ' + err); })
    .then(function () { state.ready = true; el.dataset.ready = 'true'; });
}());
