// The pages' one script of ours (served from /assets/app.js with the CSP nonce): the CSRF header on
// every htmx request, focus after swaps, and the session keep-alive through the refresh endpoint.
// Plain ES5 in a string: it runs in the browser, is never eval'd, and needs no build step.

export const CLIENT_SCRIPT = `(function () {
  'use strict';
  var REFRESH_URL = '/api/v1/auth/refresh';

  function meta(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute('content') || '' : '';
  }
  function setMeta(name, value) {
    var el = document.querySelector('meta[name="' + name + '"]');
    if (el && typeof value === 'string') el.setAttribute('content', value);
  }
  function readCookie(name) {
    if (!name) return '';
    var parts = document.cookie ? document.cookie.split('; ') : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf('=');
      if (eq > 0 && parts[i].slice(0, eq) === name) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return '';
  }
  // The token bound to this session: rendered into the page, else the readable csrf cookie.
  function csrfToken() {
    return meta('csrf-token') || readCookie(meta('csrf-cookie'));
  }

  // Every htmx request carries X-CSRF-Token (forms also carry it as the csrf_token field, for no-JS posts).
  document.addEventListener('htmx:configRequest', function (event) {
    var token = csrfToken();
    if (token) event.detail.headers['X-CSRF-Token'] = token;
  });

  // The server marks where focus belongs after a swap (the first invalid field, or the message) with data-focus.
  function moveFocus() {
    var el = document.querySelector('[data-focus]');
    if (!el) return;
    el.removeAttribute('data-focus');
    if (typeof el.focus === 'function') el.focus();
  }
  document.addEventListener('htmx:afterSettle', moveFocus);
  document.addEventListener('DOMContentLoaded', moveFocus);

  function toLogin() {
    window.location.assign('/login?next=' + encodeURIComponent(window.location.pathname + window.location.search));
  }
  function postRefresh() {
    return fetch(REFRESH_URL, {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: { 'X-CSRF-Token': csrfToken(), Accept: 'application/json' }
    });
  }

  // Keep-alive: refresh shortly before the access cookie expires, so an open page never loses its session.
  var timer = null;
  function schedule(seconds) {
    if (!(seconds > 0)) return;
    var lead = Math.min(60, seconds / 5);
    clearTimeout(timer);
    timer = setTimeout(function () { refresh(false); }, Math.max(1, seconds - lead) * 1000);
  }
  function refresh(retried) {
    postRefresh().then(function (res) {
      if (res.ok) {
        return res.json().then(function (body) {
          setMeta('csrf-token', body.csrf_token);
          schedule(body.expires_in);
        });
      }
      // Two tabs refreshing at the same moment: the loser is refused without ending the session; try once more.
      if (res.status === 401 && !retried) {
        timer = setTimeout(function () { refresh(true); }, 2000);
        return undefined;
      }
      if (res.status === 401 || res.status === 403) toLogin();
      return undefined;
    }, function () {
      timer = setTimeout(function () { refresh(retried); }, 15000);
    });
  }
  var left = Number(meta('session-expires-in'));
  if (left > 0) schedule(left);

  // An action answered 401 because the access cookie lapsed (the tab slept through the keep-alive):
  // the answer is held back, the session renewed, and the same request sent once more, so nothing
  // typed into the form is lost. A session that cannot be renewed goes to sign-in as before.
  var RETRY_WINDOW_MS = 10000;
  document.addEventListener('htmx:beforeOnLoad', function (event) {
    var d = event.detail;
    var elt = event.target;
    // Only the server's "sign in again" answer (401 with HX-Redirect), never a refused sign-in form:
    // sending a wrong password twice would count twice toward the lockout.
    if (!d || !d.xhr || d.xhr.status !== 401 || !d.xhr.getResponseHeader('HX-Redirect') || !elt || !window.htmx || !csrfToken()) return;
    var now = Date.now();
    if (elt.__gatehouseRetriedAt && now - elt.__gatehouseRetriedAt < RETRY_WINDOW_MS) return;
    elt.__gatehouseRetriedAt = now;
    event.preventDefault();
    var again = d.requestConfig && d.requestConfig.triggeringEvent ? d.requestConfig.triggeringEvent.type : 'submit';
    postRefresh().then(function (res) {
      if (!res.ok) { toLogin(); return undefined; }
      return res.json().then(function (body) {
        setMeta('csrf-token', body.csrf_token);
        schedule(body.expires_in);
        window.htmx.trigger(elt, again);
      });
    }, toLogin);
  });

  // Sign-in page of a browser that still holds a session (its access cookie lapsed): resume it quietly.
  var resumeTo = meta('session-resume');
  if (resumeTo && resumeTo.charAt(0) === '/' && resumeTo.charAt(1) !== '/' && csrfToken()) {
    postRefresh().then(function (res) {
      if (res.ok) {
        window.location.replace(resumeTo);
        return;
      }
      // A dead session: drop its stale csrf cookie so the next visit does not try again.
      var name = meta('csrf-cookie');
      var secure = window.location.protocol === 'https:' ? '; Secure' : '';
      if (name) document.cookie = name + '=; Max-Age=0; Path=/; SameSite=Lax' + secure;
    }, function () { return undefined; });
  }
})();
`;
