/* Map layers of the console: styles and popups for the GeoJSON the /api endpoints serve, and
 * a Leaflet layers control that remembers what the user switched on (localStorage).
 * Shared by the map page (map.js), the fleet map (fleet.js) and the mini-maps (minimap.js).
 * Texts go through window.PatrolI18n (console.js). No external resources. */
(function (global) {
  'use strict';

  var I18N = global.PatrolI18n || { gettext: function (s) { return s; } };
  var _ = I18N.gettext;
  if (global.L && L.Control.Zoom) {   // every map of the page gets translated zoom buttons
    L.Control.Zoom.prototype.options.zoomInTitle = _('Zoom in');
    L.Control.Zoom.prototype.options.zoomOutTitle = _('Zoom out');
  }

  // drawing order, bottom to top
  var ORDER = ['squads', 'grids', 'areas', 'photos', 'routes', 'tracks', 'findings', 'cases'];
  var LABELS = {
    squads: _('Jurisdictions'), grids: _('Unit grids'), areas: _('Patrol areas'),
    routes: _('Planned routes'), tracks: _('Flown tracks'), photos: _('Photo footprints'),
    findings: _('Findings'), cases: _('Cases')
  };
  var SWATCH = {
    squads: '#57606a', grids: '#1b7c83', areas: '#0969da', routes: '#bf8700', tracks: '#cf222e',
    photos: '#8250df', findings: '#d1242f', cases: '#bc4c00'
  };
  // one colour per finding category (in the order the page lists them), repeated past the end
  var CATEGORY_COLORS = ['#d1242f', '#bf8700', '#8250df', '#1a7f37', '#0969da', '#bc4c00', '#1b7c83',
    '#e16f24', '#4d2d8c', '#116329', '#a40e26', '#0550ae'];
  var CASE_COLORS = { open: '#bc4c00', overdue: '#a40e26', closed: '#6e7781' };
  var CLOSED = { closed: true, cancelled: true };

  var categoryColor = {};
  var names = { categories: {}, statuses: {} };

  /* The names popups show: {categories: {key: name}, statuses: {key: name}} from the page. */
  function setNames(labels) {
    names = { categories: (labels && labels.categories) || {}, statuses: (labels && labels.statuses) || {} };
    Object.keys(names.categories).forEach(function (key, i) {
      categoryColor[key] = CATEGORY_COLORS[i % CATEGORY_COLORS.length];
    });
  }
  function colorOf(category) {
    if (!categoryColor[category]) {
      categoryColor[category] = CATEGORY_COLORS[Object.keys(categoryColor).length % CATEGORY_COLORS.length];
    }
    return categoryColor[category];
  }
  function categoryName(key) { return names.categories[key] || key; }
  function statusName(key) { return names.statuses[key] || key; }

  function caseState(p, now) {
    if (CLOSED[p.status]) { return 'closed'; }
    return p.deadline && Date.parse(p.deadline) < (now || Date.now()) ? 'overdue' : 'open';
  }

  var STYLES = {
    squads: function () { return { color: '#57606a', weight: 1.5, dashArray: '6 4', fill: false }; },
    grids: function () { return { color: '#1b7c83', weight: 1, opacity: 0.7, dashArray: '2 4', fillOpacity: 0.03 }; },
    areas: function (f) {
      var corridor = f.geometry && f.geometry.type.indexOf('LineString') >= 0;
      return { color: '#0969da', weight: corridor ? 6 : 2, opacity: corridor ? 0.45 : 0.9, fillOpacity: 0.08 };
    },
    routes: function () { return { color: '#bf8700', weight: 2, opacity: 0.9 }; },
    tracks: function () { return { color: '#cf222e', weight: 3, opacity: 0.85 }; },
    photos: function () { return { color: '#8250df', weight: 1, opacity: 0.7, fillOpacity: 0.06 }; },
    findings: function (f) {
      var p = f.properties;
      var rejected = p.status === 'rejected';
      return { color: p.status === 'confirmed' ? '#1f2328' : '#ffffff', weight: 2, fillColor: colorOf(p.category),
        fillOpacity: rejected ? 0.35 : 0.95, opacity: rejected ? 0.5 : 1, radius: 7 };
    },
    cases: function (f) {
      return { color: CASE_COLORS[caseState(f.properties)], weight: 3, fill: false, radius: 12,
        dashArray: f.properties.status === 'closed' ? '3 3' : null };
    }
  };
  var POINT_RADIUS = { areas: 8, photos: 3, findings: 7, squads: 5, routes: 4, tracks: 4, grids: 5, cases: 12 };

  function esc(value) {
    return String(value === null || value === undefined ? '' : value).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  function num(value, digits, unit) {
    if (value === null || value === undefined || isNaN(value)) { return '—'; }
    return Number(value).toFixed(digits) + (unit ? ' ' + unit : '');
  }

  function when(iso) { return iso ? esc(iso.replace('T', ' ').slice(0, 16)) + ' UTC' : '—'; }

  function row(label, value) { return '<tr><th>' + esc(label) + '</th><td>' + value + '</td></tr>'; }

  function link(href, text) { return '<a href="' + esc(href) + '">' + esc(text) + '</a>'; }

  /* Popup HTML of one feature; urls: {files, findings, cases, flights} base URLs ('' = no link). */
  function popup(kind, p, urls) {
    var rows = [];
    var title = '';
    if (kind === 'areas') {
      title = p.name;
      rows.push(row(_('kind'), esc(p.kind)), row(_('site'), esc(p.site)));
      if (p.width_m) { rows.push(row(_('width'), num(p.width_m, 0, 'm'))); }
      if (p.radius_m) { rows.push(row(_('radius'), num(p.radius_m, 0, 'm'))); }
      if (p.source) { rows.push(row(_('source'), esc(p.source))); }
    } else if (kind === 'squads') {
      title = p.name;
      rows.push(row(_('site'), esc(p.site)));
      if (p.source) { rows.push(row(_('source'), esc(p.source))); }
    } else if (kind === 'grids') {
      title = _('Grid %(code)s', { code: p.code });
      if (p.name) { rows.push(row(_('name'), esc(p.name))); }
      rows.push(row(_('squad'), esc(p.squad)));
    } else if (kind === 'routes') {
      title = p.name;
      rows.push(row(_('pattern'), esc(p.pattern)), row(_('length'), num(p.path_length_m / 1000, 2, 'km')));
      if (p.photo_count !== null && p.photo_count !== undefined) { rows.push(row(_('photos'), esc(p.photo_count))); }
      if (p.gsd_cm_px) { rows.push(row('GSD', num(p.gsd_cm_px, 2, 'cm/px'))); }
    } else if (kind === 'tracks') {
      title = _('Flight %(id)s', { id: p.id });
      rows.push(row(_('vehicle'), esc(p.vehicle)), row(_('start'), when(p.start)),
        row(_('duration'), num(p.duration_s / 60, 1, 'min')), row(_('distance'), num(p.distance_m / 1000, 2, 'km')),
        row(_('max altitude'), num(p.max_alt_rel_m, 1, 'm')), row(_('photos'), esc(p.photo_count)));
      if (urls.flights) { rows.push(row('', link(urls.flights + '/' + p.id, _('flight page')))); }
    } else if (kind === 'photos') {
      title = p.name;
      rows.push(row(_('set'), esc(p.photo_set)), row(_('taken'), when(p.taken)),
        row(_('height'), num(p.alt_rel_m, 1, 'm')), row(_('position'), esc(p.position_source)));
      if (urls.files && p.stored_path) {
        rows.push(row('', link(urls.files + p.stored_path, _('open photo'))));
      }
    } else if (kind === 'findings') {
      title = _('Finding #%(id)s', { id: p.id }) + ' · ' + categoryName(p.category);
      rows.push(row(_('status'), esc(statusName(p.status))), row(_('score'), num(p.score, 2)),
        row(_('seen'), esc(p.seen_count) + '×'), row(_('last seen'), when(p.last_seen)));
      if (p.case_code && urls.cases) {
        rows.push(row(_('case'), link(urls.cases + '/' + p.case_id, p.case_code) + ' ' + esc(statusName(p.case_status))));
      } else if (p.status === 'new' && urls.findings) {
        rows.push(row('', link(urls.findings, _('review in the queue'))));
      }
      if (urls.files && p.evidence_path) {
        rows.push('<tr><td colspan="2"><img class="popup-thumb" alt="' + esc(_('evidence')) + '" src="' +
          esc(urls.files + p.evidence_path) + '"></td></tr>');
      }
    } else if (kind === 'cases') {
      var zh = (I18N.lang || '').indexOf('zh') === 0;
      title = _('Case %(code)s', { code: p.code }) + ' · ' +
        ((zh ? p.category_zh : p.category_en) || p.category_zh || p.category_en || categoryName(p.category));
      var state = caseState(p);
      rows.push(row(_('status'), esc(statusName(p.status)) + (state === 'overdue' ? ' · <b>' + esc(_('overdue')) + '</b>' : '')),
        row(_('squad'), esc(p.squad || '—')), row(_('filed'), when(p.created)), row(_('deadline'), when(p.deadline)));
      if (urls.cases) { rows.push(row('', link(urls.cases + '/' + p.id, _('case page')))); }
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
        s.radius = s.radius || POINT_RADIUS[kind] || 5;
        return L.circleMarker(latlng, s);
      },
      onEachFeature: function (feature, layer) {
        var p = feature.properties || {};
        layer.bindPopup(popup(kind, p, urls || {}), { maxWidth: 320 });
        // an evidence thumbnail loads after the popup is laid out: lay it out (and pan) again
        layer.on('popupopen', function (e) {
          var img = e.popup.getElement().querySelector('img.popup-thumb');
          if (img && !img.complete) { img.addEventListener('load', function () { e.popup.update(); }, { once: true }); }
        });
        if (p.name && (kind === 'squads' || kind === 'areas' || kind === 'routes')) {
          layer.bindTooltip(esc(p.name), { sticky: true });
        }
        if (kind === 'grids' && p.code) { layer.bindTooltip(esc(p.code + (p.name ? ' ' + p.name : '')), { sticky: true }); }
      }
    });
  }

  /* Split a findings layer into one L.layerGroup per category: {category: group}. */
  function byCategory(layer) {
    var groups = {};
    layer.eachLayer(function (l) {
      var key = (l.feature && l.feature.properties.category) || 'other';
      (groups[key] = groups[key] || L.layerGroup()).addLayer(l);
    });
    return groups;
  }

  function fetchJSON(url) {
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/geo+json' } })
      .then(function (r) {
        if (!r.ok) { throw new Error(url + ': HTTP ' + r.status); }
        return r.json();
      });
  }

  // ---------------------------------------------------------------- remembered layers control
  function readChoice(storageKey) {
    try { return JSON.parse(global.localStorage.getItem(storageKey) || '{}') || {}; } catch (err) { return {}; }
  }
  function writeChoice(storageKey, choice) {
    try { global.localStorage.setItem(storageKey, JSON.stringify(choice)); } catch (err) { /* private mode: not remembered */ }
  }

  function entryName(label, color, count, truncated, indent) {
    return '<span class="layer-name' + (indent ? ' layer-indent' : '') + '">' +
      (color ? '<i class="swatch" style="background:' + esc(color) + '"></i>' : '') + esc(label) +
      (count === undefined ? '' : '<span class="layer-count">' + esc(count) + (truncated ? '+' : '') + '</span>') +
      '</span>';
  }

  /* A Leaflet layers control whose overlays keep their on/off state in localStorage under
   * storageKey ({id: true|false}), across reloads and visits. Each overlay is added with
   * add(id, layer, label, {color, count, truncated, parent, on}); `on` is the default when
   * nothing is remembered. An overlay with children (parent: id on the children) switches
   * them all; it shows as on while any child is on. Returns the control with
   * add(), visible(id) and layers {id: layer}. */
  function rememberedControl(map, storageKey, options) {
    var narrow = global.matchMedia && global.matchMedia('(max-width: 800px)').matches;
    var control = L.control.layers(null, null, L.extend({ collapsed: narrow, sortLayers: false }, options || {}));
    control.addTo(map);
    var choice = readChoice(storageKey);
    var layers = {};
    var children = {};
    var parentOf = {};
    var idOf = {};
    var syncing = false;

    function save() {
      Object.keys(layers).forEach(function (id) { choice[id] = map.hasLayer(layers[id]); });
      writeChoice(storageKey, choice);
    }

    function add(id, layer, label, opts) {
      opts = opts || {};
      layers[id] = layer;
      idOf[L.stamp(layer)] = id;
      var on = choice.hasOwnProperty(id) ? Boolean(choice[id]) : opts.on !== false;
      if (opts.parent) {
        parentOf[id] = opts.parent;
        (children[opts.parent] = children[opts.parent] || []).push(id);
        if (on && (!choice.hasOwnProperty(opts.parent) || choice[opts.parent])) { layer.addTo(map); }
      } else if (on) {
        layer.addTo(map);
      }
      control.addOverlay(layer, entryName(label, opts.color, opts.count, opts.truncated, Boolean(opts.parent)));
      if (children[id] === undefined && !opts.parent) { children[id] = children[id] || []; }
      return layer;
    }

    function follow(id, adding) {
      syncing = true;
      (children[id] || []).forEach(function (child) {   // a parent switches its children
        if (adding) { layers[child].addTo(map); } else { map.removeLayer(layers[child]); }
      });
      var parent = parentOf[id];
      if (parent) {   // the parent is on while any child is
        var any = children[parent].some(function (c) { return map.hasLayer(layers[c]); });
        if (any && !map.hasLayer(layers[parent])) { layers[parent].addTo(map); }
        if (!any && map.hasLayer(layers[parent])) { map.removeLayer(layers[parent]); }
      }
      syncing = false;
      save();
    }

    map.on('overlayadd overlayremove', function (e) {
      if (syncing) { return; }
      var id = idOf[L.stamp(e.layer)];
      if (id === undefined) { return; }
      // after the control has finished with the click (it re-adds what is still ticked)
      setTimeout(function () { follow(id, e.type === 'overlayadd'); }, 0);
    });

    return {
      control: control, layers: layers, add: add,
      visible: function (id) { return Boolean(layers[id]) && map.hasLayer(layers[id]); },
      /* a parent's own layer, added after its children so it can reflect them */
      settle: function () {
        Object.keys(children).forEach(function (parent) {
          var kids = children[parent];
          if (!kids.length || !layers[parent]) { return; }
          var any = kids.some(function (c) { return map.hasLayer(layers[c]); });
          if (any && !map.hasLayer(layers[parent])) { layers[parent].addTo(map); }
          if (!any && map.hasLayer(layers[parent])) { map.removeLayer(layers[parent]); }
        });
      }
    };
  }

  global.PatrolLayers = {
    ORDER: ORDER, LABELS: LABELS, SWATCH: SWATCH, STYLES: STYLES, esc: esc, popup: popup,
    makeLayer: makeLayer, fetchJSON: fetchJSON, byCategory: byCategory, setNames: setNames,
    colorOf: colorOf, categoryName: categoryName, statusName: statusName, caseState: caseState,
    rememberedControl: rememberedControl
  };
}(window));
