/* Polygon editor of the admin and merchant forms (jurisdictions, unit grids, shopfront zones):
 * draw, edit, drag or remove polygons with Leaflet-Geoman; what is drawn is written as GeoJSON
 * into the form's hidden field (data-input) on every change. Context layers (data-context:
 * a FeatureCollection with properties.kind, properties.label) are shown but not editable.
 * Read-only maps (data-readonly) only show. data-site-select: the id of a site <select>; the
 * map then fits the context features of that site (properties.site; all when none chosen or
 * none there) and follows the select. State for tests: element.patrolZone. */
(function () {
  'use strict';
  var _ = window.PatrolI18n ? window.PatrolI18n.gettext : function (s) { return s; };
  var esc = window.PatrolLayers ? window.PatrolLayers.esc : function (s) { return String(s); };
  var KIND_STYLE = {
    jurisdiction: { color: '#57606a', weight: 2, dashArray: '6 4', fill: false },
    grid: { color: '#8c959f', weight: 1, dashArray: '3 3', fillOpacity: 0.03 },
    zone: { color: '#bf8700', weight: 1.5, fillOpacity: 0.12 },
    finding: { color: '#ffffff', weight: 2, fillColor: '#d1242f', fillOpacity: 0.95, radius: 7 },
    green: { color: '#1a7f37', weight: 2, fillColor: '#1a7f37', fillOpacity: 0.3 },
    yellow: { color: '#bf8700', weight: 2, fillColor: '#d4a72c', fillOpacity: 0.35 },
    red: { color: '#cf222e', weight: 2, fillColor: '#cf222e', fillOpacity: 0.3 }
  };
  var EDIT_STYLE = { color: '#0969da', weight: 3, fillOpacity: 0.15 };

  function setUp(el) {
    var cfg = el.dataset.config ? JSON.parse(el.dataset.config) : {};
    var readonly = el.hasAttribute('data-readonly');
    var input = el.dataset.input ? document.getElementById(el.dataset.input) : null;
    var map = L.map(el, { scrollWheelZoom: !readonly }).setView([30.70, 121.02], 13);
    L.control.scale({ imperial: false }).addTo(map);
    if (cfg.basemapUrl) {
      L.tileLayer(cfg.basemapUrl, { maxZoom: 21, attribution: _('basemap: configured tile server') }).addTo(map);
    }
    var context = L.featureGroup().addTo(map);
    var edited = L.featureGroup().addTo(map);
    var state = { map: map, ready: false, count: 0 };
    el.patrolZone = state;

    if (el.dataset.context) {
      L.geoJSON(JSON.parse(el.dataset.context), {
        pmIgnore: true,
        style: function (f) { return KIND_STYLE[f.properties.kind] || KIND_STYLE.zone; },
        pointToLayer: function (f, latlng) { return L.circleMarker(latlng, KIND_STYLE[f.properties.kind] || KIND_STYLE.finding); },
        onEachFeature: function (f, layer) {
          if (f.properties.label) { layer.bindTooltip(esc(f.properties.label)); }
          context.addLayer(layer);
        }
      });
    }

    function write() {
      var polys = [];
      edited.eachLayer(function (layer) {
        var gj = layer.toGeoJSON();
        var geom = gj.type === 'Feature' ? gj.geometry : gj;
        if (geom.type === 'Polygon') { polys.push(geom.coordinates); }
        if (geom.type === 'MultiPolygon') { polys = polys.concat(geom.coordinates); }
      });
      state.count = polys.length;
      if (!input) { return; }
      if (!polys.length) { input.value = ''; }
      else if (polys.length === 1) { input.value = JSON.stringify({ type: 'Polygon', coordinates: polys[0] }); }
      else { input.value = JSON.stringify({ type: 'MultiPolygon', coordinates: polys }); }
      input.dispatchEvent(new Event('change'));
    }

    function watch(layer) {
      layer.setStyle && layer.setStyle(EDIT_STYLE);
      layer.on('pm:edit pm:dragend pm:update', write);
      edited.addLayer(layer);
    }

    var initial = input && input.value.trim() ? input.value : el.dataset.geometry;
    if (initial) {
      try {
        L.geoJSON(JSON.parse(initial), { pmIgnore: readonly }).eachLayer(function (layer) {
          if (layer.getLayers) { layer.getLayers().forEach(watch); } else { watch(layer); }
        });
      } catch (err) { console.error('cannot show the stored polygon: ' + err); }
    }

    if (!readonly && map.pm) {
      map.pm.addControls({
        position: 'topleft', drawMarker: false, drawCircleMarker: false, drawPolyline: false,
        drawCircle: false, drawText: false, cutPolygon: false, rotateMode: false,
        drawPolygon: true, drawRectangle: true, editMode: true, dragMode: true, removalMode: true
      });
      map.pm.setGlobalOptions({ snappable: true, allowSelfIntersection: false });
      map.on('pm:create', function (e) { watch(e.layer); write(); });
      map.on('pm:remove', function (e) { edited.removeLayer(e.layer); write(); });
      var clear = el.dataset.clear ? document.getElementById(el.dataset.clear) : null;
      if (clear) {
        clear.addEventListener('click', function () { edited.clearLayers(); write(); });
      }
    }
    write();

    function siteBounds(site) {
      var b = L.latLngBounds([]);
      context.eachLayer(function (layer) {
        var p = layer.feature && layer.feature.properties;
        if (p && p.site === site) { b.extend(layer.getLatLng ? layer.getLatLng() : layer.getBounds()); }
      });
      return b;
    }
    function fit(site) {
      var b = site ? siteBounds(site) : L.latLngBounds([]);
      if (!b.isValid()) { b = edited.getLayers().length ? edited.getBounds() : context.getBounds(); }
      if (b.isValid()) { map.fitBounds(b, { padding: [20, 20], maxZoom: 19 }); }
    }
    var siteSelect = el.dataset.siteSelect ? document.getElementById(el.dataset.siteSelect) : null;
    fit(siteSelect && !edited.getLayers().length ? siteSelect.value : '');
    if (siteSelect) {
      siteSelect.addEventListener('change', function () {
        fit(siteSelect.value);
        var url = new URL(window.location.href);
        if (siteSelect.value) { url.searchParams.set('site', siteSelect.value); } else { url.searchParams.delete('site'); }
        window.history.replaceState(null, '', url);
      });
    }
    state.ready = true;
    el.dataset.ready = 'true';
  }

  Array.prototype.forEach.call(document.querySelectorAll('.zone-map'), setUp);
}());
