// Account settings: name, password, two-factor authentication (QR code drawn here) and recovery codes.
import { logout, patch, post, reloadMe, session } from '../api.js';
import { navigate } from '../app.js';
import { qrSvg } from '../qr.js';
import { busy, clear, field, h, toast } from '../ui.js';

export function settingsView({ main }) {
  const u = session.user;
  const name = h('input', { name: 'display_name', value: u.display_name || '', required: true, autocomplete: 'name' });
  const nameErr = h('p.form-error', { role: 'alert' });
  const nameBtn = h('button.btn.primary', { type: 'submit' }, 'Save');
  const profile = h('form.stack', {
    onsubmit: async (e) => {
      e.preventDefault();
      if (await busy(nameBtn, () => patch(`/users/${u.id}`, { display_name: name.value.trim() }), nameErr)) {
        await reloadMe();
        toast('Name saved.', 'ok');
      }
    },
  }, field('Display name', name), h('p.tiny.muted', `E-mail: ${u.email} · role: ${u.role}`), nameErr, h('div.row', nameBtn));

  const cur = h('input', { type: 'password', autocomplete: 'current-password', required: true });
  const pw = h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: 10 });
  const pw2 = h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: 10 });
  const pwErr = h('p.form-error', { role: 'alert' });
  const pwBtn = h('button.btn.primary', { type: 'submit' }, 'Change password');
  const password = h('form.stack', {
    onsubmit: async (e) => {
      e.preventDefault();
      if (pw.value !== pw2.value) {
        pwErr.textContent = 'The two new passwords differ.';
        return;
      }
      if (await busy(pwBtn, () => patch(`/users/${u.id}`, { password: pw.value, current_password: cur.value }), pwErr)) {
        cur.value = pw.value = pw2.value = '';
        // A new password ends every login, this one too.
        await logout();
        toast('Password changed. Log in again with the new one.', 'ok');
        navigate('/login');
      }
    },
  }, field('Current password', cur), field('New password', pw, 'At least 10 characters. You will be asked to log in again, on every device.'), field('New password again', pw2), pwErr, h('div.row', pwBtn));

  const totpBox = h('div.stack');
  renderTotp(totpBox);
  clear(main, h('div.page.narrow',
    h('header.page-head', h('div', h('h1', 'Settings'), h('p.muted', 'Your account and how you sign in.'))),
    h('section.panel.stack', h('h2', 'Profile'), profile),
    h('section.panel.stack', h('h2', 'Password'), password),
    h('section.panel.stack', h('h2', 'Two-factor authentication'), totpBox)));
}

function renderTotp(box) {
  const u = session.user;
  const err = h('p.form-error', { role: 'alert' });
  if (u.totp_enabled) {
    const pw = h('input', { type: 'password', autocomplete: 'current-password', required: true });
    const code = h('input', { inputmode: 'numeric', autocomplete: 'one-time-code', required: true });
    const btn = h('button.btn.danger', { type: 'submit' }, 'Turn off');
    clear(box, h('p', h('span.pill.status-ready', 'On'), ' Logging in asks for a code from your authenticator app.'),
      h('form.stack', {
        onsubmit: async (e) => {
          e.preventDefault();
          if (await busy(btn, () => post('/auth/totp/disable', { password: pw.value, code: code.value.trim() }), err)) {
            await reloadMe();
            toast('Two-factor authentication is off.', 'ok');
            renderTotp(box);
          }
        },
      }, h('p.muted', 'To turn it off, confirm with your password and a current code (or a recovery code).'), field('Password', pw), field('Code', code), err, h('div.row', btn)));
    return;
  }
  const start = h('button.btn.primary', {
    type: 'button',
    onclick: async () => {
      const r = await busy(start, () => post('/auth/totp/setup', {}), err);
      if (!r) return;
      const code = h('input', { inputmode: 'numeric', autocomplete: 'one-time-code', required: true, maxlength: 6, placeholder: '123456' });
      const btn = h('button.btn.primary', { type: 'submit' }, 'Turn on');
      let qr = null;
      try {
        qr = qrSvg(r.otpauth_uri);
      } catch {}
      clear(box,
        h('ol.steps',
          h('li', 'Scan this code with an authenticator app (Aegis, Google Authenticator, 1Password…).'),
          h('li', 'Enter the 6-digit code it shows.')),
        h('div.totp-setup', qr ? h('div.qr', { role: 'img', 'aria-label': 'QR code of the authenticator set-up link' }, qr) : null,
          h('div.stack', h('p.tiny.muted', 'Cannot scan? Enter this key by hand:'), h('code.secret', r.secret.replace(/(.{4})/g, '$1 ').trim()),
            h('details', h('summary.tiny', 'Set-up link'), h('code.uri', r.otpauth_uri)))),
        h('form.stack', {
          onsubmit: async (e) => {
            e.preventDefault();
            const res = await busy(btn, () => post('/auth/totp/enable', { code: code.value.trim() }), err);
            if (!res) return;
            await reloadMe();
            const codes = res.recovery_codes || [];
            clear(box, h('div.alert.ok', 'Two-factor authentication is on.'),
              codes.length ? [h('p', h('strong', 'Recovery codes. '), 'Each works once if you lose your phone. Keep them somewhere safe: they are not shown again.'),
                h('ul.codes', codes.map((c) => h('li', h('code', c)))),
                h('div.row', h('button.btn', { type: 'button', onclick: () => navigator.clipboard.writeText(codes.join('\n')).then(() => toast('Copied.', 'ok')) }, 'Copy'),
                  h('button.btn.ghost', { type: 'button', onclick: () => renderTotp(box) }, 'Done'))] : null);
          },
        }, field('Code from the app', code), err, h('div.row', btn)));
      code.focus();
    },
  }, 'Set up two-factor authentication');
  clear(box, h('p.muted', 'Protect your account with a code from an authenticator app on your phone, asked at every login.'), err, h('div.row', start));
}
