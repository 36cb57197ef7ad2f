/* Case pages: officers listed under the chosen squad only (dispatch and assign forms); the
 * new-case form's map, where a tap sets the latitude and longitude; the subclass's filing
 * condition shown when one is chosen. No external resources. */
(function () {
  'use strict';

  function filterOfficers(form) {
    var squad = form.querySelector('.squad-select');
    var officer = form.querySelector('.officer-select');
    if (!squad || !officer) { return; }
    function apply() {
      Array.prototype.forEach.call(officer.options, function (opt) {
        if (!opt.dataset.squad) { return; }
        var other = opt.dataset.squad !== squad.value;
        opt.hidden = other;
        opt.disabled = other;
        if (other && opt.selected) { officer.value = ''; }
      });
    }
    squad.addEventListener('change', apply);
    apply();
  }
  Array.prototype.forEach.call(document.querySelectorAll('form.step-form'), filterOfficers);

  var info = document.querySelectorAll('.subclass-info');
  var subclass = document.getElementById('subclass');
  if (subclass && info.length) {
    var show = function () {
      Array.prototype.forEach.call(info, function (el) { el.hidden = el.dataset.code !== subclass.value; });
    };
    subclass.addEventListener('change', show);
    show();
  }

  var el = document.getElementById('pick-map');
  if (!el || !window.L) { return; }
  var lat = document.getElementById('lat');
  var lon = document.getElementById('lon');
  /* Taps are in the basemap's datum (GCJ-02 on a Chinese web map), typed and GPS positions in
   * WGS84: the hidden crs field tells the server which. */
  var crs = document.querySelector('input[name=crs]');
  var mapCrs = crs ? crs.value : 'wgs84';
  var map = L.map(el).setView([30.7, 121.0], 12);
  L.control.scale({ imperial: false }).addTo(map);
  if (el.dataset.basemapUrl) {
    L.tileLayer(el.dataset.basemapUrl, { maxZoom: 20 }).addTo(map);
  }
  var marker = null;
  function place(latlng, pan) {
    if (marker) { marker.setLatLng(latlng); } else { marker = L.marker(latlng).addTo(map); }
    if (pan) { map.setView(latlng, Math.max(map.getZoom(), 16)); }
  }
  function fromInputs() {
    var a = parseFloat(lat.value), b = parseFloat(lon.value);
    if (!isNaN(a) && !isNaN(b)) { place([a, b], true); }
  }
  map.on('click', function (e) {
    lat.value = e.latlng.lat.toFixed(7);
    lon.value = e.latlng.lng.toFixed(7);
    if (crs) { crs.value = mapCrs; }
    place(e.latlng, false);
  });
  function typed() { if (crs) { crs.value = 'wgs84'; } fromInputs(); }
  lat.addEventListener('change', typed);
  lon.addEventListener('change', typed);
  var context = L.featureGroup().addTo(map);
  var home = L.featureGroup();  /* the squads of the site with the most of them */
  function load(url, style, isSquads) {
    if (!url) { return Promise.resolve(); }
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        context.addLayer(L.geoJSON(data, { style: style, interactive: false }));
        if (isSquads) {
          var counts = {}, best = null;
          data.features.forEach(function (f) {
            var s = f.properties.site || '';
            counts[s] = (counts[s] || 0) + 1;
            if (best === null || counts[s] > counts[best]) { best = s; }
          });
          home.addLayer(L.geoJSON({ type: 'FeatureCollection', features: data.features.filter(
            function (f) { return (f.properties.site || '') === best; }) }));
        }
      })
      .catch(function (err) { console.warn('layer failed to load: ' + err); });
  }
  Promise.all([
    load(el.dataset.squadsUrl, function () { return { color: '#57606a', weight: 1.5, dashArray: '6 4', fill: false }; }, true),
    load(el.dataset.gridsUrl, function () { return { color: '#8c959f', weight: 1, fill: false }; })
  ]).then(function () {
    if (lat.value && lon.value) { fromInputs(); }
    else if (home.getLayers().length && home.getBounds().isValid()) { map.fitBounds(home.getBounds()); }
    el.dataset.ready = 'true';
  });
  var locate = document.getElementById('locate-me');
  if (locate) {
    if (!navigator.geolocation) { locate.hidden = true; }
    locate.addEventListener('click', function () {
      navigator.geolocation.getCurrentPosition(function (pos) {
        lat.value = pos.coords.latitude.toFixed(7);
        lon.value = pos.coords.longitude.toFixed(7);
        typed();
      }, function (err) { console.warn('position unavailable: ' + err.message); },
      { enableHighAccuracy: true, timeout: 15000 });
    });
  }
}());
