// Log in (with the TOTP step when the account asks for it) and sign up.
import { login, signup } from '../api.js';
import { navigate } from '../app.js';
import { clear, field, h } from '../ui.js';

function shell(main, title, sub, form, foot) {
  clear(main, h('div.auth',
    h('div.auth-card',
      h('div.auth-brand', h('span.brand-mark', { 'aria-hidden': 'true' }), 'Doppel'),
      h('h1', title),
      h('p.muted', sub),
      form,
      h('p.auth-foot', foot))));
  const first = [...form.querySelectorAll('input')].find((i) => !i.value);
  if (first) first.focus();
}

function afterLogin(query) {
  const next = query.get('next');
  navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', true);
}

export function loginView({ main, query }) {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const totp = h('input', { name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code', placeholder: '123456', maxlength: 32 });
  const totpField = field('Authentication code', totp, 'The 6-digit code from your authenticator app, or a recovery code.');
  totpField.hidden = true;
  const err = h('p.form-error', { role: 'alert' });
  const btn = h('button.btn.primary.block', { type: 'submit' }, 'Log in');
  const form = h('form.stack', {
    onsubmit: async (e) => {
      e.preventDefault();
      btn.disabled = true;
      err.textContent = '';
      try {
        await login(email.value.trim(), password.value, totpField.hidden ? '' : totp.value.trim());
        afterLogin(query);
      } catch (ex) {
        if (ex.code === 'totp_required') {
          totpField.hidden = false;
          btn.textContent = 'Verify';
          totp.focus();
          err.textContent = '';
        } else err.textContent = ex.message;
      } finally {
        btn.disabled = false;
      }
    },
  }, field('E-mail', email), field('Password', password), totpField, err, btn);
  shell(main, 'Welcome back', 'Log in to talk to your avatars.', form,
    ['New here? ', h('a', { href: '/signup' + (query.get('next') ? '?next=' + encodeURIComponent(query.get('next')) : '') }, 'Create an account')]);
}

export function signupView({ main, query }) {
  const name = h('input', { name: 'display_name', autocomplete: 'name', placeholder: 'Optional' });
  const frag = new URLSearchParams(location.hash.slice(1)); // invitation links carry #invitation=…&email=…
  const invitation = frag.get('invitation') || '';
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, value: frag.get('email') || '' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'new-password', required: true, minlength: 10 });
  const err = h('p.form-error', { role: 'alert' });
  const btn = h('button.btn.primary.block', { type: 'submit' }, 'Create account');
  const form = h('form.stack', {
    onsubmit: async (e) => {
      e.preventDefault();
      btn.disabled = true;
      err.textContent = '';
      try {
        const em = email.value.trim();
        const r = await signup(em, password.value, name.value.trim() || em.split('@')[0], invitation);
        if (r && r.pending) {
          err.textContent = '';
          form.replaceWith(h('div.stack', h('div.alert.ok', { role: 'status' }, r.pending.charAt(0).toUpperCase() + r.pending.slice(1) + '.'),
            h('a.btn.primary.block', { href: '/login' }, 'Go to log in')));
          return;
        }
        afterLogin(query);
      } catch (ex) {
        err.textContent = ex.message;
      } finally {
        btn.disabled = false;
      }
    },
  }, field('Your name', name), field('E-mail', email), field('Password', password, 'At least 10 characters.'), err, btn);
  shell(main, invitation ? 'You are invited' : 'Create your account',
    invitation ? 'Someone shared an avatar with you. Create your account with the invited address to see it.' : 'Build avatars from memories, media and words — on your own server.', form,
    ['Already have an account? ', h('a', { href: '/login' }, 'Log in')]);
}
