// The app shell: hash routes, the top bar (who is signed in, language, sign out), and the
// role-aware landing (clinician -> worklist, patient -> her home page). Each page is a module in
// views/ exporting render(main, params) that may return a cleanup function.
import { session, logout, setUnauthorizedHandler } from './api.js';
import { AlarmCenter } from './alarms.js';
import { feed } from './live.js';
import { careTeamAlarms, forgetAlarmPatients, ackAlert } from './alertsvc.js';
import { h } from './dom.js';
import { t, LANGS, getLang, setLang, onLangChange } from './i18n.js';
import * as loginView from './views/login.js';
import * as worklistView from './views/worklist.js';
import * as patientView from './views/patient.js';
import * as reviewView from './views/review.js';
import * as motherView from './views/mother.js';
import * as settingsView from './views/settings.js';
import * as liveView from './views/live.js';

const ROUTES = [
  { re: /^\/login$/, view: loginView, roles: null },
  { re: /^\/worklist$/, view: worklistView, roles: ['clinician', 'admin'] },
  { re: /^\/live$/, view: liveView, roles: ['clinician'] },
  { re: /^\/patient\/([A-Za-z0-9._-]+)$/, view: patientView, roles: ['clinician', 'admin'] },
  { re: /^\/recording\/([A-Za-z0-9]+)(?:\?t=(\d+(?:\.\d+)?))?$/, view: reviewView, roles: ['clinician', 'admin', 'patient'] },
  { re: /^\/home$/, view: motherView, roles: ['patient'] },
  { re: /^\/settings$/, view: settingsView, roles: ['clinician', 'admin', 'patient'] },
];

let cleanup = null;

/* Clinicians' alarms: the raised alerts of every patient on her care team (one request), loaded
 * at sign-in, when the live feed pushes an alert or reconnects, and every 30 s as a fallback. */
const ALERT_POLL_MS = 30000;
let alarms = null, alarmTimer = null, alarmOff = null;
function startAlarms(user) {
  if (alarms || !user || user.role !== 'clinician') return;
  alarms = new AlarmCenter(document.getElementById('alarms'), {
    onAck: async (a) => { await ackAlert(a.id); pollAlarms(); },
  });
  alarms.enableSound();
  alarmOff = feed.on((m) => { if (m.type.startsWith('alert') || m.type === 'resync') pollAlarms(); });
  pollAlarms();
}
async function pollAlarms() {
  clearTimeout(alarmTimer);
  if (!alarms) return;
  try {
    const list = await careTeamAlarms();
    if (list === null) return; /* no alerts on this server */
    if (alarms) alarms.update(list);
  } catch (e) {
    if (e.status === 401) return;
  }
  alarmTimer = setTimeout(pollAlarms, ALERT_POLL_MS);
}
function stopAlarms() {
  clearTimeout(alarmTimer);
  if (alarmOff) alarmOff();
  alarmOff = null;
  if (alarms) alarms.destroy();
  alarms = null;
  forgetAlarmPatients();
}

export function landingFor(user) {
  return user && user.role === 'patient' ? '#/home' : '#/worklist';
}

export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

/* Whether the live feed is connected: a clinician must know when the screen is not live. */
function feedIndicator() {
  const el = h('span.feed', { id: 'feed-state', role: 'status' });
  const show = (st) => {
    el.dataset.state = st;
    el.textContent = t(`feed_${st}`);
  };
  show(feed.state);
  if (feedIndicator.off) feedIndicator.off();
  feedIndicator.off = feed.on((m) => { if (m.type === 'state') show(m.state); });
  return el;
}

function renderTopbar(user) {
  const bar = document.getElementById('topbar');
  if (!user) { bar.hidden = true; bar.replaceChildren(); return; }
  bar.hidden = false;
  const clin = user.role !== 'patient';
  const langSel = h('select', { id: 'lang', 'aria-label': t('language'), onchange: (e) => setLang(e.target.value) },
    LANGS.map(([code, name]) => h('option', { value: code, selected: code === getLang() }, name)));
  bar.replaceChildren(
    h('a.brand', { href: landingFor(user) }, h('span.brand-mark', { 'aria-hidden': 'true' }, '♥'), t('app_name'),
      h('span.brand-sub', t('app_tagline'))),
    h('nav', { 'aria-label': 'Main' },
      clin ? h('a', { href: '#/worklist' }, t('worklist')) : h('a', { href: '#/home' }, t('your_baby')),
      user.role === 'clinician' ? h('a', { href: '#/live', id: 'nav-live' }, t('live')) : null,
      clin ? h('a', { href: '#/settings' }, t('display')) : null),
    feedIndicator(),
    h('div.who', h('span.user', user.display_name || user.name), h('span.role', t(`role_${user.role}`))),
    langSel,
    h('button.btn.ghost', { type: 'button', id: 'signout', onclick: async () => { await logout(); go('#/login'); } }, t('sign_out')),
  );
}

async function route() {
  const path = (location.hash || '#/').slice(1) || '/';
  const s = session.get();
  const user = s && s.user;
  if (!user) { stopAlarms(); feed.stop(); }
  if (!user && path !== '/login') { location.replace('#/login'); return; }
  if (user && (path === '/' || path === '/login')) { location.replace(landingFor(user)); return; }
  const r = ROUTES.find((x) => x.re.test(path));
  if (!r) { location.replace(user ? landingFor(user) : '#/login'); return; }
  if (r.roles && !r.roles.includes(user.role)) { location.replace(landingFor(user)); return; }
  if (cleanup) { try { cleanup(); } catch { /* page already gone */ } cleanup = null; }
  if (user && (user.role === 'clinician' || user.role === 'patient')) feed.start();
  renderTopbar(user);
  startAlarms(user);
  const main = document.getElementById('main');
  main.replaceChildren();
  main.className = '';
  const params = path.match(r.re).slice(1).map((x) => (x === undefined ? undefined : decodeURIComponent(x)));
  cleanup = (await r.view.render(main, params, { user, go })) || null;
  document.title = `${main.dataset.title ? `${main.dataset.title} · ` : ''}fetalmon`;
}

setUnauthorizedHandler(() => { session.clear(); go('#/login'); });
window.addEventListener('hashchange', route);
onLangChange(() => { route(); pollAlarms(); }); /* the alarm texts too */
route();
