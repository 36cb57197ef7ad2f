/* The live fleet page: vehicles from the Server-Sent Events of /api/fleet/stream as moving,
 * heading-rotated markers, a status table and the alarm list; jurisdictions, grids, patrol
 * areas and routes as layers the user switches (remembered in localStorage under
 * 'patrol.fleet.layers'). State: window.patrolFleet. */
(function () {
  'use strict';
  var el = document.getElementById('fleet-map');
  if (!el) { return; }
  var PL = window.PatrolLayers;
  var esc = PL.esc;
  var _ = window.PatrolI18n.gettext;
  var cfg = el.dataset;
  var STALE_S = 10;          // not heard for this long (or link lost): the vehicle is shown as stale
  var RECONNECT_MS = 5000;   // after a refused or broken stream (the browser retries closed ones itself)
  var GPS_FIX = [_('no GPS'), _('no fix'), '2D', '3D', 'DGPS', _('RTK float'), _('RTK fixed'), _('static'), 'PPP'];

  var map = L.map(el, { zoomControl: true }).setView([30.7005, 121.0185], 13);
  L.control.scale({ imperial: false }).addTo(map);
  if (cfg.basemapUrl) {
    L.tileLayer(cfg.basemapUrl, { maxZoom: 21, attribution: _('basemap: configured tile server') }).addTo(map);
  }
  var vehiclesLayer = L.layerGroup();
  var state = {
    map: map, markers: {}, vehicles: {}, alarms: [], events: 0, ready: false, connected: false,
    errors: [], control: null
  };
  window.patrolFleet = state;
  var statusEl = document.getElementById('fleet-status');
  var tbody = document.getElementById('fleet-vehicles');
  var countEl = document.getElementById('fleet-count');
  var alarmsEl = document.getElementById('fleet-alarms');
  var fitted = false;
  var siteSelect = document.getElementById('site-select');
  var siteLayers = [];

  var crsQuery = cfg.crs && cfg.crs !== 'wgs84' ? '?crs=' + encodeURIComponent(cfg.crs) : '';
  var endpoints = cfg.layers ? JSON.parse(cfg.layers) : { squads: cfg.squadsUrl };
  var control = PL.rememberedControl(map, 'patrol.fleet.layers');
  state.control = control;
  control.add('vehicles', vehiclesLayer, _('Vehicles'), { color: '#1a7f37' });
  var kinds = PL.ORDER.filter(function (k) { return endpoints[k]; });
  Promise.all(kinds.map(function (kind) {
    return PL.fetchJSON(endpoints[kind] + crsQuery).then(function (data) {
      return { kind: kind, layer: PL.makeLayer(kind, data, {}), count: data.features.length };
    }).catch(function (err) { state.errors.push(String(err)); return null; });
  })).then(function (loaded) {
    loaded.forEach(function (r) {
      if (!r) { return; }
      control.add(r.kind, r.layer, PL.LABELS[r.kind], { color: PL.SWATCH[r.kind], count: r.count,
        on: r.kind === 'squads' || r.kind === 'grids' });
      if (r.kind === 'squads' || r.kind === 'areas') { siteLayers.push(r.layer); }
    });
    if (!fitted) { fitSite(siteSelect ? siteSelect.value : ''); }
  });

  // the squads and patrol areas of the chosen site (all of them: a world view across sites)
  function fitSite(site) {
    var bounds = L.latLngBounds([]);
    siteLayers.forEach(function (layer) {
      layer.eachLayer(function (l) {
        var p = l.feature && l.feature.properties;
        if (site && (!p || p.site !== site)) { return; }
        bounds.extend(l.getLatLng ? l.getLatLng() : l.getBounds());
      });
    });
    if (bounds.isValid()) { map.fitBounds(bounds, { maxZoom: 15 }); }
  }
  if (siteSelect) {
    siteSelect.addEventListener('change', function () {
      fitted = true;
      fitSite(siteSelect.value);
      var url = new URL(window.location.href);
      if (siteSelect.value) { url.searchParams.set('site', siteSelect.value); } else { url.searchParams.delete('site'); }
      window.history.replaceState(null, '', url);
    });
  }

  function label(v) { return v.name || v.vehicle_name || v.key; }

  function ageS(v) {
    var t = v.last_message_utc || v.updated_utc;
    return t ? Math.max(0, (Date.now() - Date.parse(t)) / 1000) : null;
  }

  function num(value, digits, unit) {
    if (value === null || value === undefined || isNaN(value)) { return '—'; }
    return Number(value).toFixed(digits) + (unit ? ' ' + unit : '');
  }

  function classes(v) {
    var c = ['vehicle-icon'];
    c.push(v.armed ? 'armed' : 'disarmed');
    if (v.alarms && v.alarms.length) { c.push('alarm'); }
    var age = ageS(v);
    if (v.link_ok === false || (age !== null && age > STALE_S)) { c.push('stale'); }
    return c.join(' ');
  }

  function icon(v) {
    var heading = Number(v.heading_deg) || 0;
    return L.divIcon({
      className: '', iconSize: [30, 30], iconAnchor: [15, 15],
      html: '<div class="' + classes(v) + '" data-key="' + esc(v.key) + '">' +
        '<svg viewBox="0 0 24 24" width="30" height="30" style="transform: rotate(' + heading + 'deg)">' +
        '<path d="M12 2 L20 21 L12 16.5 L4 21 Z"/></svg></div>'
    });
  }

  function mission(v) {
    if (v.mission_seq === null || v.mission_seq === undefined) { return '—'; }
    return v.mission_total ? v.mission_seq + '/' + v.mission_total : String(v.mission_seq);
  }

  function gps(v) {
    if (v.gps_fix_type === null || v.gps_fix_type === undefined) { return '—'; }
    return (GPS_FIX[v.gps_fix_type] || v.gps_fix_type) +
      (v.satellites_visible !== null && v.satellites_visible !== undefined ? ' · ' + v.satellites_visible : '');
  }

  function battery(v) {
    var s = num(v.battery_remaining_pct, 0, '%');
    return v.battery_voltage_v !== null && v.battery_voltage_v !== undefined ? s + ' · ' + num(v.battery_voltage_v, 1, 'V') : s;
  }

  function popupHtml(v) {
    var rows = [
      [_('mode'), esc(v.mode || '—') + ' · ' + (v.armed ? _('armed') : _('disarmed'))],
      [_('position'), num(v.lat_deg, 6) + ', ' + num(v.lon_deg, 6)],
      [_('altitude'), num(v.alt_rel_m, 1, 'm') + ' ' + _('rel') + ' · ' + num(v.alt_amsl_m, 1, 'm') + ' AMSL'],
      [_('heading'), num(v.heading_deg, 0, '°')], [_('ground speed'), num(v.groundspeed_m_s, 1, 'm/s')],
      [_('battery'), battery(v)], ['GPS', esc(gps(v))], [_('mission'), esc(mission(v))],
      [_('link loss'), num(v.packet_loss_pct, 1, '%')],
      [_('alarms'), v.alarms && v.alarms.length ? esc(v.alarms.map(function (a) {
        return typeof a === 'string' ? a : (a.message || a.code || JSON.stringify(a));
      }).join(', ')) : _('none')],
      [_('last heard'), esc((v.last_message_utc || '—').replace('T', ' ').slice(0, 19)) + ' UTC'],
      [_('link'), v.link_ok === false ? _('lost') : _('ok')]
    ];
    return '<div class="popup"><b>' + esc(label(v)) + '</b><table>' + rows.map(function (r) {
      return '<tr><th>' + esc(r[0]) + '</th><td>' + r[1] + '</td></tr>';
    }).join('') + '</table></div>';
  }

  function renderRow(v) {
    var id = 'vehicle-' + v.key.replace(/[^A-Za-z0-9_-]/g, '_');
    var tr = document.getElementById(id);
    if (!tr) {
      var empty = tbody.querySelector('tr.empty');
      if (empty) { empty.remove(); }
      tr = document.createElement('tr');
      tr.id = id;
      tr.className = 'vehicle-row';
      tr.addEventListener('click', function () {
        var m = state.markers[v.key];
        if (m) { map.panTo(m.getLatLng()); m.openPopup(); }
      });
      tbody.appendChild(tr);
    }
    var age = ageS(v);
    tr.classList.toggle('stale', v.link_ok === false || (age !== null && age > STALE_S));
    tr.classList.toggle('alarm', Boolean(v.alarms && v.alarms.length));
    tr.innerHTML = '<td>' + esc(label(v)) + '</td><td>' + esc(v.mode || '—') +
      (v.armed ? ' <span class="badge armed">' + esc(_('armed')) + '</span>' : '') + '</td>' +
      '<td class="num">' + num(v.alt_rel_m, 0, 'm') + ' · ' + num(v.groundspeed_m_s, 1, 'm/s') + '</td>' +
      '<td class="num">' + num(v.battery_remaining_pct, 0, '%') + '</td><td>' + esc(gps(v)) + '</td>' +
      '<td>' + esc(mission(v)) + '</td>' +
      '<td class="num">' + num(v.packet_loss_pct, 1, '%') + '</td>' +
      '<td class="num age">' + (age === null ? '—' : num(age, 0, 's')) + '</td>';
  }

  function position(v) {
    var lat = v.map_lat_deg !== undefined ? v.map_lat_deg : v.lat_deg;
    var lon = v.map_lon_deg !== undefined ? v.map_lon_deg : v.lon_deg;
    return lat === null || lat === undefined || lon === null || lon === undefined ? null : L.latLng(lat, lon);
  }

  function update(v) {
    state.vehicles[v.key] = v;
    var at = position(v);
    var marker = state.markers[v.key];
    if (at) {
      if (!marker) {
        marker = L.marker(at, { icon: icon(v), title: label(v), keyboard: false }).addTo(vehiclesLayer);
        marker.bindTooltip(esc(label(v)), { permanent: true, direction: 'right', offset: [14, 0], className: 'vehicle-label' });
        marker.bindPopup(popupHtml(v));
        state.markers[v.key] = marker;
        if (!fitted) { fitted = true; map.setView(at, Math.max(map.getZoom(), 15)); }
      } else {
        marker.setLatLng(at);
        marker.setIcon(icon(v));
        marker.setPopupContent(popupHtml(v));
      }
    }
    renderRow(v);
    countEl.textContent = String(Object.keys(state.vehicles).length);
  }

  function remove(key) {
    delete state.vehicles[key];
    if (state.markers[key]) { vehiclesLayer.removeLayer(state.markers[key]); delete state.markers[key]; }
    var tr = document.getElementById('vehicle-' + key.replace(/[^A-Za-z0-9_-]/g, '_'));
    if (tr) { tr.remove(); }
    countEl.textContent = String(Object.keys(state.vehicles).length);
  }

  function addAlarm(a) {
    if (state.alarms.some(function (x) { return x.id === a.id; })) { return; }
    state.alarms.push(a);
    var li = document.createElement('li');
    var cleared = a.kind === 'alarm_cleared';
    li.className = 'alarm-item' + (cleared ? ' cleared' : (a.severity !== null && a.severity <= 2 ? ' critical' : ''));
    li.innerHTML = '<span class="mono small">' + esc((a.t_utc || '').replace('T', ' ').slice(0, 19)) + '</span> ' +
      '<b>' + esc(a.vehicle_name || a.vehicle_key) + '</b> ' + (cleared ? esc(_('cleared:')) + ' ' : '') + esc(a.message);
    alarmsEl.insertBefore(li, alarmsEl.firstChild);
    while (alarmsEl.children.length > 200) { alarmsEl.removeChild(alarmsEl.lastChild); }
  }

  function status(text) { if (statusEl) { statusEl.textContent = text; } }

  function handler(fn) {
    return function (e) {
      state.events += 1;
      try { fn(JSON.parse(e.data)); } catch (err) { state.errors.push(String(err)); console.error(err); }
    };
  }

  var source = null;
  function connect() {
    source = new EventSource(cfg.streamUrl + crsQuery);
    source.addEventListener('open', function () { state.connected = true; status(_('live · connected')); });
    source.addEventListener('vehicle', handler(update));
    source.addEventListener('removed', handler(function (d) { remove(d.key); }));
    source.addEventListener('alarm', handler(addAlarm));
    source.addEventListener('ready', handler(function (d) {
      state.ready = true;
      el.dataset.ready = 'true';
      status(_('live · %(n)s vehicle(s)', { n: d.vehicles }));
    }));
    source.addEventListener('error', function () {
      state.connected = false;
      if (source.readyState === EventSource.CLOSED) {   // refused (e.g. 503): retry ourselves
        status(_('disconnected · retrying in %(s)s s', { s: RECONNECT_MS / 1000 }));
        setTimeout(connect, RECONNECT_MS);
      } else {
        status(_('reconnecting…'));
      }
    });
  }
  connect();

  setInterval(function () {   // ages and stale markers tick without new messages
    Object.keys(state.vehicles).forEach(function (key) {
      var v = state.vehicles[key];
      renderRow(v);
      var m = state.markers[key];
      var div = m && m.getElement() && m.getElement().querySelector('.vehicle-icon');
      if (div && div.className !== classes(v)) { m.setIcon(icon(v)); }
    });
  }, 1000);
  window.addEventListener('beforeunload', function () { if (source) { source.close(); } });
}());
