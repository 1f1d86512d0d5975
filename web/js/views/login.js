// Sign-in page: user name and password to POST /api/login; the token is kept for this tab only.
import { login, ApiError } from '../api.js';
import { h } from '../dom.js';
import { t, LANGS, getLang, setLang } from '../i18n.js';

export function render(main, _params, { go }) {
  main.dataset.title = t('sign_in');
  main.className = 'login-page';
  const err = h('p.form-error', { id: 'login-error', role: 'alert', hidden: true });
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: false });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const btn = h('button.btn.primary', { type: 'submit', id: 'signin' }, t('sign_in'));
  const form = h('form.card.login-card', { 'aria-labelledby': 'login-title', novalidate: false },
    h('div.login-brand', h('span.brand-mark', { 'aria-hidden': 'true' }, '♥'), h('span', 'fetalmon')),
    h('h1', { id: 'login-title' }, t('app_tagline')),
    h('label', { for: 'username' }, t('username')), user,
    h('label', { for: 'password' }, t('password')), pass,
    err, btn,
    h('div.login-lang', h('label', { for: 'login-lang' }, t('language')),
      h('select', { id: 'login-lang', onchange: (e) => setLang(e.target.value) },
        LANGS.map(([c, n]) => h('option', { value: c, selected: c === getLang() }, n)))),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    btn.disabled = true;
    btn.textContent = t('signing_in');
    try {
      const r = await login(user.value.trim(), pass.value);
      go(r.user.role === 'patient' ? '#/home' : '#/worklist');
    } catch (ex) {
      err.textContent = ex instanceof ApiError && ex.status === 401 ? t('bad_credentials')
        : ex instanceof ApiError && ex.status === 429 ? t('rate_limited') : t('error_generic', { msg: ex.message });
      err.hidden = false;
      btn.disabled = false;
      btn.textContent = t('sign_in');
      pass.select();
    }
  });
  main.append(form);
  user.focus();
}
