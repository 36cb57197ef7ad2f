/* The map page: every layer from /api/*.geojson in a layers control (findings one entry per
 * category under "Findings"), fitted to the data; what is switched on is remembered in
 * localStorage ('patrol.map.layers'). An optional basemap when the settings name a tile URL.
 * State is exposed as window.patrolMap. */
(function () {
  'use strict';
  var el = document.getElementById('map');
  if (!el) { return; }
  var PL = window.PatrolLayers;
  var _ = window.PatrolI18n.gettext;
  var cfg = el.dataset;
  var endpoints = JSON.parse(cfg.layers);
  PL.setNames(cfg.labels ? JSON.parse(cfg.labels) : {});
  var urls = { files: cfg.filesUrl, findings: cfg.findingsUrl, cases: cfg.caseUrl, flights: cfg.flightUrl };
  var query = cfg.crs && cfg.crs !== 'wgs84' ? '?crs=' + encodeURIComponent(cfg.crs) : '';
  var STORAGE_KEY = 'patrol.map.layers';

  var map = L.map(el, { zoomControl: true, preferCanvas: false, tap: true }).setView([20, 0], 2);
  L.control.scale({ imperial: false }).addTo(map);
  if (cfg.basemapUrl) {
    L.tileLayer(cfg.basemapUrl, { maxZoom: 21, attribution: _('basemap: configured tile server') }).addTo(map);
  }
  var kinds = PL.ORDER.filter(function (k) { return endpoints[k]; });
  var state = { map: map, layers: {}, categories: {}, counts: {}, truncated: {}, errors: [], ready: false,
    control: null, storageKey: STORAGE_KEY };
  window.patrolMap = state;
  var statusEl = document.getElementById('map-status');
  var siteSelect = document.getElementById('site-select');

  function load(kind) {
    return PL.fetchJSON(endpoints[kind] + query).then(function (data) {
      var layer = PL.makeLayer(kind, data, urls);
      state.layers[kind] = layer;
      state.counts[kind] = data.features.length;
      state.truncated[kind] = Boolean(data.truncated);
      return layer;
    }).catch(function (err) {
      state.errors.push(String(err));
      console.error('layer ' + kind + ' failed to load: ' + err);
      return null;
    });
  }

  function boundsOf(layers, site) {
    var bounds = L.latLngBounds([]);
    layers.forEach(function (layer) {
      if (!layer) { return; }
      layer.eachLayer(function (l) {
        var p = l.feature && l.feature.properties;
        if (site && (!p || p.site !== site)) { return; }
        bounds.extend(l.getLatLng ? l.getLatLng() : l.getBounds());
      });
    });
    return bounds;
  }

  function fit(site) {
    var s = state.layers;
    var bounds = site ? boundsOf([s.areas, s.squads, s.routes], site)
      : boundsOf(kinds.map(function (k) { return s[k]; }));
    if (bounds.isValid()) { map.fitBounds(bounds, { padding: [24, 24], maxZoom: 18 }); }
  }

  function addFindings(control, layer) {
    var groups = PL.byCategory(layer);
    var keys = Object.keys(groups).sort(function (a, b) {
      return PL.categoryName(a).localeCompare(PL.categoryName(b), window.PatrolI18n.lang);
    });
    // "Findings" switches every category; each category has its own entry below it
    control.add('findings', L.layerGroup(), PL.LABELS.findings,
      { color: PL.SWATCH.findings, count: state.counts.findings, truncated: state.truncated.findings });
    keys.forEach(function (key) {
      state.categories[key] = groups[key];
      control.add('findings:' + key, groups[key], PL.categoryName(key),
        { color: PL.colorOf(key), count: groups[key].getLayers().length, parent: 'findings' });
    });
  }

  Promise.all(kinds.map(load)).then(function (layers) {
    var control = PL.rememberedControl(map, STORAGE_KEY);
    state.control = control;
    layers.forEach(function (layer, i) {
      if (!layer) { return; }
      var kind = kinds[i];
      if (kind === 'findings') { addFindings(control, layer); return; }
      control.add(kind, layer, PL.LABELS[kind],
        { color: PL.SWATCH[kind], count: state.counts[kind], truncated: state.truncated[kind] });
    });
    control.settle();
    fit(siteSelect ? siteSelect.value : '');
    if (statusEl) {
      statusEl.textContent = kinds.map(function (k) {
        return PL.LABELS[k] + ' ' + (state.counts[k] || 0);
      }).join(' · ') + (state.errors.length ? ' · ' + _('%(n)s layer(s) failed', { n: state.errors.length }) : '');
    }
    state.ready = true;
    el.dataset.ready = 'true';
  });

  if (siteSelect) {
    siteSelect.addEventListener('change', function () {
      fit(siteSelect.value);
      var url = new URL(window.location.href);
      if (siteSelect.value) { url.searchParams.set('site', siteSelect.value); } else { url.searchParams.delete('site'); }
      window.history.replaceState(null, '', url);
    });
  }
  // the map fills the space left by the toolbar; tell Leaflet when that changes (rotation)
  window.addEventListener('resize', function () { map.invalidateSize(); });
}());
