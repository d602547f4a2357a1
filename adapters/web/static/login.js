// The login form both pages use, and the top bar with who is logged in.

import { ApiError, api, currentUser, describeError, login, setSession } from './api.js';
import { h, message } from './dom.js';

/**
 * Shows the login form in `main` and resolves once someone logged in and
 * `check` (optional, may throw an ApiError) accepted them.
 * `note` is shown above the form (e.g. why the user is asked again).
 */
export function showLogin(main, { title, note = '', check } = {}) {
  return new Promise((resolve) => {
    const status = h('div', { hidden: true });
    const username = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true });
    const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    const button = h('button', { type: 'submit', class: 'primary' }, 'Log in');
    const form = h('form', { class: 'card login', 'aria-labelledby': 'login-title', novalidate: true },
      h('h1', { id: 'login-title' }, title),
      note ? h('p', { class: 'note' }, note) : null,
      h('label', { for: 'login-user' }, 'Username'), username,
      h('label', { for: 'login-password' }, 'Password'), password,
      status,
      button);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!username.value || !password.value) {
        message(status, 'Enter your username and password.');
        (username.value ? password : username).focus();
        return;
      }
      button.disabled = true;
      message(status, 'Logging in…', 'info');
      try {
        const who = await login(username.value, password.value);
        if (check) await check(who);
        resolve(who);
      } catch (err) {
        setSession(null);
        let text = describeError(err);
        if (err instanceof ApiError && err.status === 401) text = 'Wrong username or password.';
        if (err instanceof ApiError && err.status === 403) text = err.message;
        message(status, text);
        password.select();
        password.focus();
      } finally {
        button.disabled = false;
      }
    });
    main.replaceChildren(form);
    username.focus();
  });
}

/** Fills the top bar's right side: the user's name and a Log out button. */
export function showUser(slot, onLogout) {
  const who = currentUser();
  if (!who) {
    slot.replaceChildren();
    return;
  }
  slot.replaceChildren(
    h('span', { class: 'who' }, `${who.name}${who.role === 'admin' ? ' (admin)' : ''}`),
    h('button', { type: 'button', class: 'link', onclick: () => { setSession(null); onLogout(); } }, 'Log out'));
}

/** For the admin console: a user's token gets 403 from /admin/status. */
export async function requireAdmin() {
  try {
    await api('/admin/status');
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) throw new ApiError(403, 'forbidden', 'This account is not an admin. Log in with an admin account.');
    throw err;
  }
}
