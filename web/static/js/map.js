/* The map page: every layer from /api/*.geojson, toggleable, fitted to the data; an optional
 * basemap when the settings name a tile URL. State is exposed as window.patrolMap. */
(function () {
  'use strict';
  var el = document.getElementById('map');
  if (!el) { return; }
  var PL = window.PatrolLayers;
  var cfg = el.dataset;
  var endpoints = JSON.parse(cfg.layers);
  var urls = { files: cfg.filesUrl, findings: cfg.findingsUrl, cases: cfg.caseUrl, flights: cfg.flightUrl };
  var query = cfg.crs && cfg.crs !== 'wgs84' ? '?crs=' + encodeURIComponent(cfg.crs) : '';

  var map = L.map(el, { zoomControl: true, preferCanvas: false }).setView([20, 0], 2);
  L.control.scale({ imperial: false }).addTo(map);
  if (cfg.basemapUrl) {
    L.tileLayer(cfg.basemapUrl, { maxZoom: 21, attribution: 'basemap: configured tile server' }).addTo(map);
  }
  var control = L.control.layers(null, null, { collapsed: false }).addTo(map);
  var state = { map: map, layers: {}, counts: {}, truncated: {}, errors: [], ready: false };
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
      : boundsOf(PL.ORDER.map(function (k) { return s[k]; }));
    if (bounds.isValid()) { map.fitBounds(bounds, { padding: [24, 24], maxZoom: 18 }); }
  }

  Promise.all(PL.ORDER.map(load)).then(function (layers) {
    layers.forEach(function (layer, i) {
      if (!layer) { return; }
      var kind = PL.ORDER[i];
      layer.addTo(map);
      control.addOverlay(layer, PL.LABELS[kind] + ' (' + state.counts[kind] +
        (state.truncated[kind] ? '+' : '') + ')');
    });
    fit(siteSelect ? siteSelect.value : '');
    if (statusEl) {
      statusEl.textContent = PL.ORDER.map(function (k) {
        return (state.counts[k] || 0) + ' ' + k;
      }).join(' · ') + (state.errors.length ? ' · ' + state.errors.length + ' layer(s) failed' : '');
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
}());
