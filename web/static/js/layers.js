/* Map layers of the console: styles and popups for the GeoJSON the /api endpoints serve.
 * Shared by the map page (map.js) and the mini-maps (minimap.js). No external resources. */
(function (global) {
  'use strict';

  var ORDER = ['squads', 'areas', 'photos', 'routes', 'tracks', 'findings'];
  var LABELS = {
    squads: 'Jurisdictions 辖区', areas: 'Patrol areas 巡查区域', routes: 'Planned routes 航线',
    tracks: 'Flown tracks 航迹', photos: 'Photos 照片', findings: 'Findings 发现'
  };
  var FINDING_COLORS = { 'new': '#d1242f', confirmed: '#1a7f37', rejected: '#8c959f' };
  var STYLES = {
    squads: function () { return { color: '#57606a', weight: 1.5, dashArray: '6 4', fill: false }; },
    areas: function (f) {
      var corridor = f.geometry && f.geometry.type.indexOf('LineString') >= 0;
      return { color: '#0969da', weight: corridor ? 6 : 2, opacity: corridor ? 0.45 : 0.9, fillOpacity: 0.08 };
    },
    routes: function () { return { color: '#bf8700', weight: 2, opacity: 0.9 }; },
    tracks: function () { return { color: '#cf222e', weight: 3, opacity: 0.85 }; },
    photos: function () { return { color: '#8250df', weight: 1, opacity: 0.7, fillOpacity: 0.06 }; },
    findings: function (f) {
      var c = FINDING_COLORS[f.properties.status] || '#d1242f';
      return { color: '#ffffff', weight: 2, fillColor: c, fillOpacity: 0.95, radius: 7 };
    }
  };
  var POINT_RADIUS = { areas: 8, photos: 3, findings: 7, squads: 5, routes: 4, tracks: 4 };

  function esc(value) {
    return String(value === null || value === undefined ? '' : value).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  function num(value, digits, unit) {
    if (value === null || value === undefined || isNaN(value)) { return '—'; }
    return Number(value).toFixed(digits) + (unit ? ' ' + unit : '');
  }

  function when(iso) { return iso ? esc(iso.replace('T', ' ').slice(0, 19)) + ' UTC' : '—'; }

  function row(label, value) { return '<tr><th>' + esc(label) + '</th><td>' + value + '</td></tr>'; }

  function link(href, text) { return '<a href="' + esc(href) + '">' + esc(text) + '</a>'; }

  /* Popup HTML of one feature; urls: {files, findings, cases, flights} base URLs ('' = no link). */
  function popup(kind, p, urls) {
    var rows = [];
    var title = '';
    if (kind === 'areas') {
      title = p.name;
      rows.push(row('kind', esc(p.kind)), row('site', esc(p.site)));
      if (p.width_m) { rows.push(row('width', num(p.width_m, 0, 'm'))); }
      if (p.radius_m) { rows.push(row('radius', num(p.radius_m, 0, 'm'))); }
      if (p.source) { rows.push(row('source', esc(p.source))); }
    } else if (kind === 'squads') {
      title = p.name;
      rows.push(row('site', esc(p.site)));
      if (p.source) { rows.push(row('source', esc(p.source))); }
    } else if (kind === 'routes') {
      title = p.name;
      rows.push(row('pattern', esc(p.pattern)), row('length', num(p.path_length_m / 1000, 2, 'km')));
      if (p.photo_count !== null && p.photo_count !== undefined) { rows.push(row('photos', esc(p.photo_count))); }
      if (p.gsd_cm_px) { rows.push(row('GSD', num(p.gsd_cm_px, 2, 'cm/px'))); }
    } else if (kind === 'tracks') {
      title = 'Flight ' + p.id;
      rows.push(row('vehicle', esc(p.vehicle)), row('start', when(p.start)),
        row('duration', num(p.duration_s / 60, 1, 'min')), row('distance', num(p.distance_m / 1000, 2, 'km')),
        row('max altitude', num(p.max_alt_rel_m, 1, 'm')), row('photos', esc(p.photo_count)));
      if (urls.flights) { rows.push(row('', link(urls.flights + '/' + p.id, 'flight page'))); }
    } else if (kind === 'photos') {
      title = p.name;
      rows.push(row('set', esc(p.photo_set)), row('taken', when(p.taken)),
        row('height', num(p.alt_rel_m, 1, 'm')), row('position', esc(p.position_source)));
      if (urls.files && p.stored_path) {
        rows.push(row('', link(urls.files + p.stored_path, 'open photo')));
      }
    } else if (kind === 'findings') {
      title = 'Finding #' + p.id + ' · ' + p.category;
      rows.push(row('status', esc(p.status)), row('score', num(p.score, 2)),
        row('seen', esc(p.seen_count) + '×'), row('last seen', when(p.last_seen)));
      if (p.case_code && urls.cases) {
        rows.push(row('case', link(urls.cases + '/' + p.case_id, p.case_code) + ' ' + esc(p.case_status)));
      } else if (p.status === 'new' && urls.findings) {
        rows.push(row('', link(urls.findings, 'review in the queue')));
      }
      if (urls.files && p.evidence_path) {
        rows.push('<tr><td colspan="2"><img class="popup-thumb" alt="evidence" src="' +
          esc(urls.files + p.evidence_path) + '"></td></tr>');
      }
    }
    return '<div class="popup"><b>' + esc(title) + '</b><table>' + rows.join('') + '</table></div>';
  }

  /* An L.GeoJSON layer for one kind of feature. */
  function makeLayer(kind, data, urls) {
    var style = STYLES[kind];
    return L.geoJSON(data, {
      style: style,
      pointToLayer: function (feature, latlng) {
        var s = style(feature);
        s.radius = POINT_RADIUS[kind] || 5;
        return L.circleMarker(latlng, s);
      },
      onEachFeature: function (feature, layer) {
        var p = feature.properties || {};
        layer.bindPopup(popup(kind, p, urls || {}), { maxWidth: 320 });
        if (p.name && (kind === 'squads' || kind === 'areas' || kind === 'routes')) {
          layer.bindTooltip(esc(p.name), { sticky: true });
        }
      }
    });
  }

  function fetchJSON(url) {
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/geo+json' } })
      .then(function (r) {
        if (!r.ok) { throw new Error(url + ': HTTP ' + r.status); }
        return r.json();
      });
  }

  global.PatrolLayers = {
    ORDER: ORDER, LABELS: LABELS, STYLES: STYLES, esc: esc, popup: popup,
    makeLayer: makeLayer, fetchJSON: fetchJSON
  };
}(window));
