/* Every page of the console: translations for the scripts (window.PatrolI18n), the
 * collapsible top menu on narrow screens, and wide tables that scroll sideways inside their
 * own box instead of widening the page. Loaded by base.html before the page's own scripts. */
(function (global) {
  'use strict';

  // ---------------------------------------------------------------- translations
  var catalog = {};
  try {
    var el = document.getElementById('i18n-catalog');
    catalog = el ? JSON.parse(el.textContent) : {};
  } catch (err) { console.error('translations not loaded: ' + err); }

  /* gettext for scripts: _('English msgid', {name: value}) -> the translation with
   * %(name)s placeholders filled in. Msgids are extracted by pybabel (babel.cfg). */
  function gettext(msgid, params) {
    var text = Object.prototype.hasOwnProperty.call(catalog, msgid) ? catalog[msgid] : msgid;
    if (params) {
      text = text.replace(/%\((\w+)\)s/g, function (m, key) {
        return Object.prototype.hasOwnProperty.call(params, key) ? String(params[key]) : m;
      });
    }
    return text;
  }

  var lang = document.documentElement.lang || 'zh-CN';
  global.PatrolI18n = {
    gettext: gettext,
    lang: lang,
    /* A number with the page language's grouping and `digits` decimals ('—' for none). */
    number: function (value, digits) {
      if (value === null || value === undefined || isNaN(value)) { return '—'; }
      return Number(value).toLocaleString(lang, { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 });
    }
  };

  // ---------------------------------------------------------------- top menu
  var toggle = document.getElementById('nav-toggle');
  var topbar = document.getElementById('topbar');
  if (toggle && topbar) {
    toggle.addEventListener('click', function () {
      var open = !topbar.classList.contains('menu-open');
      topbar.classList.toggle('menu-open', open);
      toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
    });
    document.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && topbar.classList.contains('menu-open')) {
        topbar.classList.remove('menu-open');
        toggle.setAttribute('aria-expanded', 'false');
        toggle.focus();
      }
    });
  }

  // ---------------------------------------------------------------- wide tables
  Array.prototype.forEach.call(document.querySelectorAll('main table'), function (table) {
    var parent = table.parentNode;
    if (!parent || (parent.classList && parent.classList.contains('table-scroll')) ||
        table.closest('.leaflet-container, .popup, .fleet-side, .plan-panel')) { return; }
    var box = document.createElement('div');
    box.className = 'table-scroll';
    box.tabIndex = 0;   // keyboard users can scroll it too
    parent.insertBefore(box, table);
    box.appendChild(table);
  });
}(window));
