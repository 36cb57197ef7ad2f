/* Small maps on the case and flight pages: inline features (data-features) or layers from
 * the API (data-layers, {kind: url}), fitted to what they show. */
(function () {
  'use strict';
  var PL = window.PatrolLayers;
  var KIND_STYLE = {
    'case': { color: '#ffffff', weight: 2, fillColor: '#d1242f', fillOpacity: 0.95, radius: 8 },
    finding: { color: '#d1242f', weight: 2, fillOpacity: 0.2 },
    squad: { color: '#57606a', weight: 1.5, dashArray: '6 4', fill: false },
    area: { color: '#0969da', weight: 2, fillOpacity: 0.08 },
    no_fly: { color: '#cf222e', weight: 2, fillColor: '#cf222e', fillOpacity: 0.25 }
  };

  function setUp(el) {
    var map = L.map(el, { scrollWheelZoom: false }).setView([20, 0], 2);
    L.control.scale({ imperial: false }).addTo(map);
    var focus = L.featureGroup().addTo(map);
    var context = L.featureGroup().addTo(map);
    var pending = [];

    if (el.dataset.features) {
      L.geoJSON(JSON.parse(el.dataset.features), {
        style: function (f) { return KIND_STYLE[f.properties.kind] || {}; },
        pointToLayer: function (f, latlng) { return L.circleMarker(latlng, KIND_STYLE[f.properties.kind] || {}); },
        onEachFeature: function (f, layer) {
          if (f.properties.label) { layer.bindTooltip(PL.esc(f.properties.label)); }
          (f.properties.kind === 'squad' ? context : focus).addLayer(layer);
        }
      });
    }
    if (el.dataset.layers) {
      var endpoints = JSON.parse(el.dataset.layers);
      Object.keys(endpoints).forEach(function (kind) {
        pending.push(PL.fetchJSON(endpoints[kind]).then(function (data) {
          var layer = PL.makeLayer(kind, data, {});
          (kind === 'tracks' || kind === 'routes' ? focus : context).addLayer(layer);
        }).catch(function (err) { console.error('layer ' + kind + ' failed to load: ' + err); }));
      });
    }
    Promise.all(pending).then(function () {
      var bounds = focus.getLayers().length ? focus.getBounds() : context.getBounds();
      if (bounds.isValid()) { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 18 }); }
      el.dataset.ready = 'true';
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('.minimap'), setUp);
}());
