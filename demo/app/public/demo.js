// Plain browser script (no modules, no build): what a site using moesif-browser-js would write.
(function () {
  'use strict';
  var config = window.USERTRAIL_DEMO || {};
  var SESSION_KEY = 'usertrail-demo-session';
  var page = document.body.getAttribute('data-page');

  /** Where app and docs pages live: the configured origin, else the sibling subdomain, else here. */
  function siblingOrigin(from, to) {
    var hostname = location.hostname;
    if (hostname.indexOf(from + '.') === 0) {
      return location.protocol + '//' + to + '.' + hostname.slice(from.length + 1) + (location.port ? ':' + location.port : '');
    }
    return '';
  }
  var appOrigin = config.appOrigin || siblingOrigin('docs', 'app');
  var docsOrigin = config.docsOrigin || siblingOrigin('app', 'docs');
  document.querySelectorAll('a[data-app-link]').forEach(function (a) {
    a.href = appOrigin + a.getAttribute('href');
  });
  document.querySelectorAll('a[data-docs-link]').forEach(function (a) {
    a.href = docsOrigin + a.getAttribute('href');
  });

  function show(id, text, isError) {
    var node = document.getElementById(id);
    if (!node) return;
    node.textContent = text;
    node.className = isError ? 'notice error' : 'notice';
    node.hidden = false;
  }

  function readSession() {
    try {
      return JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
    } catch (e) {
      return null;
    }
  }

  // ---- The SDK, initialised as moesif-browser-js's documentation shows --------------------------
  var moesif = window.moesif;
  if (!moesif) {
    show('sdk-status', 'The SDK did not load: run `npm run build`, then reload.', true);
  } else {
    moesif.init({
      applicationId: config.applicationId,
      host: config.collectorHost,
      trackPageViews: true,
    });
    // Capture the API calls this page makes (fetch and XMLHttpRequest). Guarded so that a build
    // without start() still runs the rest of the demo instead of stopping at a TypeError.
    if (typeof moesif.start === 'function') moesif.start();
    else show('sdk-status', 'This SDK build has no moesif.start(): API calls from the page are not captured.', true);
  }

  // ---- Docs: a call to action, tracked while the visitor is still anonymous ----------------------
  var cta = document.getElementById('cta-signup');
  if (cta && moesif) {
    cta.addEventListener('click', function () {
      moesif.track('Clicked Sign Up', { from: location.pathname });
    });
  }

  // ---- Sign-up and log-in ------------------------------------------------------------------------
  var form = document.getElementById('login-form');
  if (form) {
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var email = String(new FormData(form).get('email') || '').trim();
      if (!email) return show('form-status', 'Enter an email address.', true);
      if (!config.apiUrl) return show('form-status', 'The demo API is not running, so log-in is unavailable.', true);
      fetch(config.apiUrl + '/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email: email }),
      })
        .then(function (res) {
          if (!res.ok) throw new Error('The demo API answered ' + res.status);
          return res.json();
        })
        .then(function (answer) {
          localStorage.setItem(SESSION_KEY, JSON.stringify({ userId: answer.userId, companyId: answer.companyId, token: answer.token, email: email }));
          if (moesif) {
            moesif.identifyUser(answer.userId, { email: email });
            if (answer.companyId) moesif.identifyCompany(answer.companyId, undefined, email.split('@')[1]);
            moesif.track(page === 'signup' ? 'Signed Up' : 'Logged In', { method: 'email' });
          }
          location.href = appOrigin + '/app';
        })
        .catch(function (err) {
          show('form-status', 'Could not log in: ' + err.message, true);
        });
    });
  }

  // ---- The logged-in page ------------------------------------------------------------------------
  if (page === 'app') {
    var session = readSession();
    if (!session) {
      location.replace(appOrigin + '/login');
      return;
    }
    document.getElementById('who').textContent = session.email + ' (user id ' + session.userId + (session.companyId ? ', company ' + session.companyId : '') + ')';

    document.getElementById('call-api').addEventListener('click', function () {
      if (!config.apiUrl) return show('api-result', 'The demo API is not running.', true);
      fetch(config.apiUrl + '/test', { headers: { Authorization: 'Bearer ' + session.token } })
        .then(function (res) {
          return res.text().then(function (body) {
            show('api-result', 'GET /test answered ' + res.status + ': ' + body.slice(0, 300), !res.ok);
          });
        })
        .catch(function (err) {
          show('api-result', 'GET /test failed: ' + err.message, true);
        });
    });

    document.getElementById('track-click').addEventListener('click', function () {
      if (moesif) moesif.track('Clicked Upgrade', { plan: 'team' });
      show('api-result', 'Tracked the action "Clicked Upgrade".', false);
    });

    document.getElementById('log-out').addEventListener('click', function () {
      localStorage.removeItem(SESSION_KEY);
      // A fresh anonymous id for whoever uses this browser next (the seed's "Logging out").
      if (moesif) moesif.reset();
      location.href = docsOrigin + '/docs/';
    });
  }
})();
