// The dialtone console: sign in with an API key, configure telephony, place a test call and
// follow it live, browse past calls. Plain DOM, no framework: every piece of data reaches the
// page as text nodes or attribute values, never as HTML.
'use strict';

(() => {
  const KEY_STORAGE = 'dialtone.apiKey';
  const MASK = '••••••••';
  const STEPS = ['initiated', 'ringing', 'answered', 'completed'];
  const FINAL = new Set(['completed', 'failed', 'busy', 'no-answer', 'canceled']);
  const STEP_TIME = { initiated: 'initiated_at', ringing: 'ringing_at', answered: 'answered_at', completed: 'ended_at' };
  const POLL_MS = 500;
  const POLL_AFTER_FINAL_MS = 60000; // how long to wait for the carrier to price a finished call
  const PAGE_SIZE = 20;

  const main = document.getElementById('main');
  const topbar = document.getElementById('topbar');
  const toastBox = document.getElementById('toast');

  let apiKey = sessionStorage.getItem(KEY_STORAGE);
  let currentView = null;
  let signOutMessage = null; // shown on the sign-in page after an automatic sign-out

  // ---- DOM helpers ----

  /** An element with attributes/properties and children (strings become text nodes). */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'value') el.value = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  function pageHeader(title, subtitle, ...actions) {
    return h('div', { class: 'page-header' },
      h('div', null, h('h1', null, title), subtitle ? h('p', { class: 'muted' }, subtitle) : null),
      actions.length ? h('div', { class: 'page-actions' }, actions) : null);
  }

  function loading(text) {
    return h('div', { class: 'state state-loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
  }

  function emptyState(title, text, action) {
    return h('div', { class: 'state state-empty' }, h('h2', null, title), h('p', { class: 'muted' }, text), action || null);
  }

  function errorState(err, retry) {
    return h('div', { class: 'alert alert-error', role: 'alert' },
      h('span', null, errorText(err)),
      retry ? h('button', { type: 'button', class: 'btn btn-small', onclick: retry }, 'Try again') : null);
  }

  function badge(status) {
    const s = status || 'unknown';
    return h('span', { class: `badge badge-${s.replace(/[^a-z-]/g, '')}` }, s);
  }

  let toastTimer = null;
  function toast(text) {
    toastBox.textContent = text;
    toastBox.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toastBox.hidden = true; }, 3000);
  }

  // ---- formatting ----

  const pad = (n, w = 2) => String(n).padStart(w, '0');
  const dateOf = (t) => (typeof t === 'number' ? new Date(t * 1000) : null);

  function formatDateTime(t) {
    const d = dateOf(t);
    return d ? d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '—';
  }

  function formatClock(t) {
    const d = dateOf(t);
    return d ? `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}` : '';
  }

  function formatDuration(run) {
    if (typeof run.duration !== 'number') return '—';
    const s = Math.round(run.duration);
    return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  }

  function formatMoney(amount, currency) {
    try {
      return new Intl.NumberFormat(undefined, { style: 'currency', currency, maximumFractionDigits: 5 }).format(amount);
    } catch {
      return `${amount} ${currency || ''}`.trim();
    }
  }

  function formatCost(run) {
    if (typeof run.cost === 'number') return formatMoney(run.cost, run.currency);
    if (run.cost_state === 'unavailable') return 'Not available';
    return FINAL.has(run.status) ? 'Pricing…' : '—';
  }

  // ---- the API ----

  class ApiError extends Error {
    constructor(status, body, fallback) {
      const e = body && body.error;
      super((e && e.message) || fallback || `The server answered ${status}.`);
      this.status = status;
      this.code = e && e.code;
      this.fields = (e && e.fields) || {};
    }
  }

  function errorText(err) {
    return err instanceof ApiError ? err.message : 'Something went wrong. Try again.';
  }

  async function request(method, path, body, key = apiKey) {
    const headers = { accept: 'application/json', authorization: `Bearer ${key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, { method, headers, cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, null, 'Cannot reach the dialtone server. Check your connection and try again.');
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }

  /** An API call for a signed-in page: a refused key signs out. */
  async function api(method, path, body) {
    try {
      return await request(method, path, body);
    } catch (err) {
      if (err.status === 401) signOut('Your API key is no longer accepted. Sign in again.');
      throw err;
    }
  }

  const listOf = (data, key) => (Array.isArray(data) ? data : (data && data[key]) || []);
  const enc = encodeURIComponent;

  // ---- views and navigation ----

  /** A view's lifetime: async work checks `alive` before drawing, timers are cleared on leave. */
  function newView() {
    if (currentView) currentView.leave();
    const view = { alive: true, timers: new Set() };
    view.leave = () => { view.alive = false; for (const t of view.timers) clearTimeout(t); };
    view.later = (fn, ms) => {
      const t = setTimeout(() => { view.timers.delete(t); if (view.alive) fn(); }, ms);
      view.timers.add(t);
    };
    currentView = view;
    return view;
  }

  /** Replaces el's children with the given nodes and strings, skipping null/false ones. */
  function fill(el, ...children) {
    el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  }

  function show(...nodes) {
    fill(main, ...nodes);
  }

  function setNav(page) {
    for (const a of topbar.querySelectorAll('[data-nav]')) {
      if (a.dataset.nav === page) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  function router() {
    const view = newView();
    if (!apiKey) {
      topbar.hidden = true;
      return renderSignIn(view);
    }
    topbar.hidden = false;
    const m = location.hash.match(/^#\/([a-z]+)(?:\/([^/]+))?$/);
    const page = m ? m[1] : '';
    const id = m && m[2] ? decodeURIComponent(m[2]) : null;
    setNav(page);
    if (page === 'telephony') return id ? renderEditor(view, id === 'new' ? null : id) : renderTelephony(view);
    if (page === 'call') return renderTestCall(view);
    if (page === 'calls') return id ? renderRunPage(view, id) : renderCalls(view);
    location.replace('#/telephony');
  }

  function signOut(message) {
    apiKey = null;
    sessionStorage.removeItem(KEY_STORAGE);
    signOutMessage = message || null;
    if (location.hash !== '#/telephony') location.hash = '#/telephony';
    else router();
  }

  // ---- sign in ----

  function renderSignIn(view) {
    const input = h('input', { id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'current-password',
      spellcheck: 'false', required: true, 'aria-describedby': 'api-key-hint', placeholder: 'dt_…' });
    const error = h('p', { class: 'alert alert-error', role: 'alert', hidden: true });
    if (signOutMessage) { error.textContent = signOutMessage; error.hidden = false; signOutMessage = null; }
    const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
    const form = h('form', { class: 'card signin', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      const key = input.value.trim();
      error.hidden = true;
      if (!key) {
        error.textContent = 'Enter your organisation’s API key.';
        error.hidden = false;
        return input.focus();
      }
      submit.disabled = true;
      submit.textContent = 'Signing in…';
      try {
        await request('GET', '/api/v1/telephony/configs', undefined, key);
        apiKey = key;
        sessionStorage.setItem(KEY_STORAGE, key);
        router();
      } catch (err) {
        if (!view.alive) return;
        error.textContent = err.status === 401 ? 'That API key was not accepted. Check it and try again.' : errorText(err);
        error.hidden = false;
        submit.disabled = false;
        submit.textContent = 'Sign in';
        input.focus();
      }
    } },
    h('div', { class: 'signin-brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'dialtone'),
    h('h1', null, 'Sign in'),
    h('p', { class: 'muted' }, 'Use your organisation’s API key. It stays in this browser tab only.'),
    error,
    h('div', { class: 'field' },
      h('label', { for: 'api-key' }, 'API key'),
      input,
      h('p', { class: 'hint', id: 'api-key-hint' }, 'Created with dialtone org create, or dialtone key rotate.')),
    submit);
    show(h('div', { class: 'signin-wrap' }, form));
    input.focus();
  }

  // ---- telephony: the list of configurations ----

  async function loadTelephony() {
    const [providers, configs] = await Promise.all([
      api('GET', '/api/v1/telephony/providers'), api('GET', '/api/v1/telephony/configs')]);
    return { providers: listOf(providers, 'providers'), configs: listOf(configs, 'configs') };
  }

  function renderTelephony(view) {
    const body = h('div', null, loading('Loading configurations…'));
    show(pageHeader('Telephony', 'The carrier accounts your organisation places calls with.',
      h('a', { class: 'btn btn-primary', href: '#/telephony/new' }, 'New configuration')), body);
    const load = async () => {
      body.replaceChildren(loading('Loading configurations…'));
      try {
        const { providers, configs } = await loadTelephony();
        if (view.alive) body.replaceChildren(configList(view, configs, providers, load));
      } catch (err) {
        if (view.alive) body.replaceChildren(errorState(err, load));
      }
    };
    load();
  }

  function configList(view, configs, providers, reload) {
    if (!configs.length) {
      return emptyState('No telephony configuration yet',
        'Add your carrier account to place calls: choose a provider and enter its credentials.',
        h('a', { class: 'btn btn-primary', href: '#/telephony/new' }, 'Add a configuration'));
    }
    const titles = Object.fromEntries(providers.map((p) => [p.name, p.title]));
    return h('ul', { class: 'card-list', 'aria-label': 'Telephony configurations' },
      configs.map((c) => configItem(view, c, titles[c.provider] || c.provider, reload)));
  }

  function configItem(view, config, providerTitle, reload) {
    const numbers = Array.isArray(config.settings && config.settings.from_numbers) ? config.settings.from_numbers.length : 0;
    const details = [providerTitle];
    if (numbers) details.push(`${numbers} number${numbers === 1 ? '' : 's'}`);
    if (config.updated_at) details.push(`updated ${formatDateTime(config.updated_at)}`);
    const actions = h('div', { class: 'item-actions' });
    const item = h('li', { class: 'card item', 'data-config': config.id },
      h('div', { class: 'item-main' },
        h('h2', { class: 'item-title' }, config.name, config.is_default ? h('span', { class: 'badge badge-default' }, 'Default') : null),
        h('p', { class: 'muted' }, details.join(' · '))),
      actions);
    const act = async (btn, fn, done) => {
      btn.disabled = true;
      try {
        await fn();
        toast(done);
        reload();
      } catch (err) {
        if (!view.alive) return;
        btn.disabled = false;
        actions.prepend(h('p', { class: 'inline-error', role: 'alert' }, errorText(err)));
      }
    };
    const normal = () => {
      fill(actions,
        h('a', { class: 'btn btn-small', href: `#/telephony/${enc(config.id)}`, 'aria-label': `Edit ${config.name}` }, 'Edit'),
        config.is_default ? null : h('button', { type: 'button', class: 'btn btn-small', onclick: (e) =>
          act(e.currentTarget, () => api('POST', `/api/v1/telephony/configs/${enc(config.id)}/default`),
            `${config.name} is now the default`) }, 'Make default'),
        h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'aria-label': `Delete ${config.name}`,
          onclick: confirmDelete }, 'Delete'));
    };
    function confirmDelete() {
      const yes = h('button', { type: 'button', class: 'btn btn-small btn-danger', onclick: (e) =>
        act(e.currentTarget, () => api('DELETE', `/api/v1/telephony/configs/${enc(config.id)}`), `${config.name} deleted`) },
      'Delete');
      fill(actions, h('span', { class: 'confirm-text' }, `Delete ${config.name}?`), yes,
        h('button', { type: 'button', class: 'btn btn-small btn-ghost', onclick: normal }, 'Cancel'));
      yes.focus();
    }
    normal();
    return item;
  }

  // ---- telephony: the editor ----

  async function renderEditor(view, id) {
    show(pageHeader(id ? 'Edit configuration' : 'New configuration', null), loading('Loading…'));
    let providers;
    let config = null;
    try {
      providers = listOf(await api('GET', '/api/v1/telephony/providers'), 'providers');
      if (id) config = await api('GET', `/api/v1/telephony/configs/${enc(id)}`);
    } catch (err) {
      if (view.alive) show(pageHeader(id ? 'Edit configuration' : 'New configuration', null), errorState(err, () => router()));
      return;
    }
    if (!view.alive) return;
    show(pageHeader(config ? `Edit ${config.name}` : 'New configuration',
      config ? null : 'Choose your carrier and enter the credentials from its console.'), editorForm(view, providers, config));
  }

  /** The control for one provider field, filled from the stored value (secrets stay masked). */
  function fieldControl(f, value, inputId) {
    const common = { id: inputId, name: f.name, 'aria-required': f.required ? 'true' : null,
      'aria-describedby': `${inputId}-hint ${inputId}-error` };
    if (f.type === 'phone_list') {
      const text = Array.isArray(value) ? value.join('\n') : (value || '');
      return h('textarea', { ...common, rows: 3, class: 'mono', spellcheck: 'false', placeholder: '+14155550100', value: text });
    }
    if (f.type === 'pem' || f.type === 'text') {
      return h('textarea', { ...common, rows: f.type === 'pem' ? 6 : 3, class: f.type === 'pem' ? 'mono' : null,
        spellcheck: 'false', placeholder: f.type === 'pem' ? '-----BEGIN PRIVATE KEY-----' : null, value: value || '' });
    }
    return h('input', { ...common, type: f.secret ? 'password' : (f.type === 'url' ? 'url' : 'text'),
      autocomplete: f.secret ? 'new-password' : 'off', spellcheck: 'false', value: value || '' });
  }

  function fieldHint(f, stored) {
    if (f.secret && stored) return 'Stored encrypted. Leave it as it is to keep it, or enter a new value.';
    if (f.secret) return 'Stored encrypted; never shown again.';
    if (f.type === 'phone_list') return 'One number per line, in E.164 form (+ and country code).';
    if (f.default) return `Default: ${f.default}`;
    return '';
  }

  function fieldBlock(inputId, label, required, control, hint) {
    return h('div', { class: 'field', 'data-field': control.name },
      h('label', { for: inputId }, label, required ? h('span', { class: 'required', 'aria-hidden': 'true' }, ' *') : null),
      control,
      h('p', { class: 'hint', id: `${inputId}-hint` }, hint || ''),
      h('p', { class: 'field-error', id: `${inputId}-error`, hidden: true }));
  }

  function editorForm(view, providers, config) {
    const formError = h('div', { class: 'alert alert-error', role: 'alert', hidden: true });
    const nameInput = h('input', { id: 'cfg-name', name: 'name', type: 'text', required: true, maxlength: 100,
      autocomplete: 'off', 'aria-describedby': 'cfg-name-hint cfg-name-error', value: config ? config.name : '' });
    const providerSelect = h('select', { id: 'cfg-provider', name: 'provider', 'aria-describedby': 'cfg-provider-hint cfg-provider-error' },
      providers.map((p) => h('option', { value: p.name }, p.title || p.name)));
    if (config) providerSelect.value = config.provider;
    const settingsBox = h('fieldset', { class: 'settings' });
    let controls = {};

    const drawSettings = () => {
      const p = providers.find((x) => x.name === providerSelect.value);
      // What the user typed carries over to a field of the same name; defaults and masks do not.
      const keep = Object.fromEntries(Object.entries(controls)
        .filter(([, c]) => c.value.trim() !== '' && c.value !== c.dataset.default && c.value !== MASK)
        .map(([k, c]) => [k, c.value]));
      controls = {};
      settingsBox.replaceChildren(h('legend', null, p ? `${p.title || p.name} settings` : 'Settings'));
      for (const f of (p && p.fields) || []) {
        const same = config && config.provider === p.name;
        const stored = same && config.settings ? config.settings[f.name] : undefined;
        const initial = keep[f.name] !== undefined ? keep[f.name] : (stored !== undefined ? stored : (same ? '' : f.default));
        const control = fieldControl(f, initial, `cfg-${f.name}`);
        if (f.default) control.dataset.default = f.default;
        controls[f.name] = control;
        settingsBox.append(fieldBlock(`cfg-${f.name}`, f.label || f.name, f.required, control, fieldHint(f, stored === MASK)));
      }
    };
    providerSelect.addEventListener('change', drawSettings);
    drawSettings();

    const clearErrors = () => {
      formError.hidden = true;
      for (const el of form.querySelectorAll('.field-error')) { el.hidden = true; el.textContent = ''; }
      for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    };
    const showErrors = (err) => {
      const unplaced = [];
      let first = null;
      for (const [name, message] of Object.entries(err.fields || {})) {
        const control = name === 'name' ? nameInput : name === 'provider' ? providerSelect : controls[name];
        if (!control) { unplaced.push(`${name}: ${message}`); continue; }
        control.setAttribute('aria-invalid', 'true');
        const box = document.getElementById(`${control.id}-error`);
        box.textContent = String(message);
        box.hidden = false;
        first = first || control;
      }
      fill(formError, h('strong', null, first ? 'Check the highlighted fields.' : 'Could not save.'),
        ' ', err.message, unplaced.length ? h('ul', null, unplaced.map((u) => h('li', null, u))) : null);
      formError.hidden = false;
      (first || formError).focus();
    };

    const collect = () => {
      const p = providers.find((x) => x.name === providerSelect.value);
      const settings = {};
      for (const f of (p && p.fields) || []) {
        const raw = controls[f.name].value;
        if (f.type === 'phone_list') settings[f.name] = raw.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
        else if (raw.trim() !== '') settings[f.name] = f.type === 'pem' || f.type === 'text' ? raw : raw.trim();
      }
      return { name: nameInput.value.trim(), provider: providerSelect.value, settings };
    };

    const saveButton = h('button', { type: 'submit', class: 'btn btn-primary' }, config ? 'Save changes' : 'Save configuration');
    const form = h('form', { class: 'card form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      clearErrors();
      const body = collect();
      if (!body.name) {
        return showErrors(new ApiError(422, { error: { message: '', fields: { name: 'Give the configuration a name.' } } }));
      }
      saveButton.disabled = true;
      saveButton.textContent = 'Saving…';
      try {
        if (config) await api('PUT', `/api/v1/telephony/configs/${enc(config.id)}`, body);
        else await api('POST', '/api/v1/telephony/configs', body);
        toast(`${body.name} saved`);
        location.hash = '#/telephony';
      } catch (err) {
        if (!view.alive) return;
        saveButton.disabled = false;
        saveButton.textContent = config ? 'Save changes' : 'Save configuration';
        if (err.status === 409 && !Object.keys(err.fields).length) err.fields = { name: 'A configuration with this name already exists.' };
        showErrors(err);
      }
    } },
    formError,
    fieldBlock('cfg-name', 'Name', true, nameInput, 'How you will recognise it, e.g. “Main” or “Europe”.'),
    fieldBlock('cfg-provider', 'Provider', true, providerSelect, ''),
    settingsBox,
    h('div', { class: 'form-actions' }, saveButton, h('a', { class: 'btn btn-ghost', href: '#/telephony' }, 'Cancel')));
    formError.tabIndex = -1;
    return form;
  }

  // ---- a run: status steps, facts and the event timeline ----

  function runSteps(run) {
    const reached = STEPS.indexOf(run.status);
    const failed = FINAL.has(run.status) && run.status !== 'completed';
    const steps = failed ? [...STEPS.slice(0, 3).filter((s) => run[STEP_TIME[s]]), run.status] : STEPS;
    return h('ol', { class: 'steps', 'aria-label': 'Call progress' }, steps.map((s, i) => {
      let state = 'pending';
      if (failed) state = s === run.status ? 'failed' : 'done';
      else if (i < reached || run.status === 'completed') state = 'done';
      else if (i === reached) state = 'current';
      const t = s === run.status && FINAL.has(s) ? run.ended_at : run[STEP_TIME[s]];
      return h('li', { class: `step step-${state}`, 'data-step': s, 'aria-current': state === 'current' ? 'step' : null },
        h('span', { class: 'step-dot', 'aria-hidden': 'true' }),
        h('span', { class: 'step-label' }, s),
        h('span', { class: 'step-time' }, t ? formatClock(t).slice(0, 8) : ''));
    }));
  }

  function fact(label, value, attrs) {
    return h('div', { class: 'fact', ...attrs }, h('dt', null, label), h('dd', null, value));
  }

  function timeline(events) {
    if (!events.length) return h('p', { class: 'muted' }, 'No events yet.');
    return h('ol', { class: 'timeline', 'aria-label': 'Events' }, events.map((ev) =>
      h('li', { class: `event event-${ev.outcome || 'applied'}` },
        h('time', { class: 'event-time mono' }, formatClock(ev.received_at)),
        h('span', { class: 'event-what' }, ev.status ? badge(ev.status) : h('span', { class: 'badge' }, ev.raw_status || 'event'),
          h('span', { class: 'event-source' }, ev.source || ''),
          ev.raw_status && ev.raw_status !== ev.status ? h('span', { class: 'muted' }, `(${ev.raw_status})`) : null),
        h('span', { class: 'event-outcome muted' }, ev.outcome && ev.outcome !== 'applied' ? ev.outcome : ''))));
  }

  function runDetail(run, workflowNames) {
    const events = Array.isArray(run.events) ? run.events : [];
    return h('div', { class: 'run', 'data-run': run.id, 'data-status': run.status || '' },
      h('div', { class: 'run-head' },
        h('div', null, h('h2', null, `Call to ${run.to_number || 'unknown number'}`),
          h('p', { class: 'muted mono run-id' }, run.id)),
        h('div', { class: 'run-status' }, badge(run.status))),
      runSteps(run),
      run.error ? h('p', { class: 'alert alert-error' }, run.error) : null,
      h('dl', { class: 'facts' },
        fact('From', run.from_number || '—'),
        fact('To', run.to_number || '—'),
        fact('Workflow', workflowNames[run.workflow_id] || run.workflow_id || '—'),
        fact('Provider', run.provider || '—'),
        fact('Started', formatDateTime(run.created_at)),
        fact('Duration', formatDuration(run)),
        fact('Cost', formatCost(run), { 'data-fact': 'cost' })),
      h('h3', { class: 'section-title' }, 'Event timeline'),
      timeline(events));
  }

  /** Polls a run every POLL_MS into box until it is final and priced (or pricing gave up). */
  function followRun(view, box, runId, workflowNames) {
    let finalSince = null;
    const tick = async () => {
      let run;
      try {
        run = await api('GET', `/api/v1/workflow-runs/${enc(runId)}`);
      } catch (err) {
        if (!view.alive) return;
        if (err.status === 404 || err.status === 401) return box.replaceChildren(errorState(err));
        box.querySelector('.poll-note')?.remove();
        box.append(h('p', { class: 'poll-note inline-error', role: 'status' }, `${errorText(err)} Retrying…`));
        return view.later(tick, POLL_MS * 4);
      }
      if (!view.alive) return;
      box.replaceChildren(runDetail(run, workflowNames));
      if (FINAL.has(run.status)) {
        finalSince = finalSince || Date.now();
        const settled = typeof run.cost === 'number' || run.cost_state === 'unavailable';
        if (settled || Date.now() - finalSince > POLL_AFTER_FINAL_MS) return;
      }
      view.later(tick, POLL_MS);
    };
    tick();
  }

  async function workflowNameMap() {
    try {
      const list = listOf(await api('GET', '/api/v1/workflows'), 'workflows');
      return Object.fromEntries(list.map((w) => [w.id, w.name]));
    } catch {
      return {};
    }
  }

  // ---- test call ----

  function renderTestCall(view) {
    const body = h('div', null, loading('Loading…'));
    show(pageHeader('Test call', 'Place a call and watch it progress live.'), body);
    const load = async () => {
      body.replaceChildren(loading('Loading…'));
      try {
        const [workflows, configs] = await Promise.all([api('GET', '/api/v1/workflows'), api('GET', '/api/v1/telephony/configs')]);
        if (view.alive) body.replaceChildren(testCallBody(view, listOf(workflows, 'workflows'), listOf(configs, 'configs')));
      } catch (err) {
        if (view.alive) body.replaceChildren(errorState(err, load));
      }
    };
    load();
  }

  function testCallBody(view, workflows, configs) {
    if (!configs.length) {
      return emptyState('Set up telephony first', 'A test call needs a carrier account to call through.',
        h('a', { class: 'btn btn-primary', href: '#/telephony/new' }, 'Add a configuration'));
    }
    if (!workflows.length) {
      return emptyState('No workflows yet',
        'A workflow decides what happens once the call connects. Add one from the command line: dialtone workflow add ORG NAME FLOW.');
    }
    const names = Object.fromEntries(workflows.map((w) => [w.id, w.name]));
    const workflowSelect = h('select', { id: 'call-workflow', name: 'workflow' },
      workflows.map((w) => h('option', { value: w.id }, w.flow && w.flow !== w.name ? `${w.name} (${w.flow})` : w.name)));
    const configSelect = h('select', { id: 'call-config', name: 'config' },
      configs.map((c) => h('option', { value: c.id, selected: c.is_default }, c.is_default ? `${c.name} (default)` : c.name)));
    const number = h('input', { id: 'call-number', name: 'number', type: 'tel', autocomplete: 'off', inputmode: 'tel',
      placeholder: '+14155550100', 'aria-describedby': 'call-number-hint call-number-error' });
    const callError = h('div', { class: 'alert alert-error', role: 'alert', hidden: true });
    const live = h('section', { class: 'card live', 'aria-live': 'polite', 'aria-label': 'Call status', hidden: true });
    const callButton = h('button', { type: 'submit', class: 'btn btn-primary btn-call' }, 'Call');
    const numberError = () => document.getElementById('call-number-error');

    const form = h('form', { class: 'card form call-form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      callError.hidden = true;
      numberError().hidden = true;
      number.removeAttribute('aria-invalid');
      const to = number.value.replace(/[\s().-]/g, '');
      if (!/^\+[1-9]\d{6,14}$/.test(to)) {
        number.setAttribute('aria-invalid', 'true');
        numberError().textContent = 'Enter the number with its country code, e.g. +14155550100.';
        numberError().hidden = false;
        return number.focus();
      }
      callButton.disabled = true;
      callButton.textContent = 'Calling…';
      try {
        const res = await api('POST', '/api/v1/telephony/initiate-call',
          { workflow_id: workflowSelect.value, phone_number: to, config: configSelect.value });
        if (!view.alive) return;
        live.hidden = false;
        live.replaceChildren(loading('Placing the call…'));
        followRun(view, live, res.workflow_run_id, names);
      } catch (err) {
        if (!view.alive) return;
        callError.replaceChildren(h('strong', null, 'The call was not placed.'), ' ', errorText(err));
        callError.hidden = false;
      } finally {
        if (view.alive) { callButton.disabled = false; callButton.textContent = 'Call'; }
      }
    } },
    callError,
    h('div', { class: 'form-grid' },
      fieldBlock('call-workflow', 'Workflow', true, workflowSelect, 'What runs once the call connects.'),
      fieldBlock('call-config', 'Call through', true, configSelect, ''),
      fieldBlock('call-number', 'Phone number', true, number, 'E.164, with the country code.')),
    h('div', { class: 'form-actions' }, callButton));
    return h('div', { class: 'stack' }, form, live);
  }

  // ---- calls ----

  const STATUS_FILTERS = ['', 'initiated', 'ringing', 'answered', 'completed', 'failed', 'busy', 'no-answer', 'canceled'];

  function renderCalls(view) {
    let status = '';
    let offset = 0;
    const filter = h('select', { id: 'calls-status', 'aria-label': 'Filter by status' },
      STATUS_FILTERS.map((s) => h('option', { value: s }, s || 'All statuses')));
    const refresh = h('button', { type: 'button', class: 'btn' }, 'Refresh');
    const body = h('div', null);
    show(pageHeader('Calls', 'Every call placed for your organisation, newest first.', filter, refresh), body);
    let names = {};
    const load = async () => {
      body.replaceChildren(loading('Loading calls…'));
      try {
        const q = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(offset) });
        if (status) q.set('status', status);
        const [data, wf] = await Promise.all([api('GET', `/api/v1/workflow-runs?${q}`), workflowNameMap()]);
        names = wf;
        if (view.alive) body.replaceChildren(callsTable(data, names, status, (o) => { offset = o; load(); }));
      } catch (err) {
        if (view.alive) body.replaceChildren(errorState(err, load));
      }
    };
    filter.addEventListener('change', () => { status = filter.value; offset = 0; load(); });
    refresh.addEventListener('click', load);
    load();
  }

  function callsTable(data, names, status, goTo) {
    const runs = listOf(data, 'runs');
    const total = typeof data.total === 'number' ? data.total : runs.length;
    const offset = typeof data.offset === 'number' ? data.offset : 0;
    if (!runs.length && offset === 0) {
      return status
        ? emptyState(`No ${status} calls`, 'Try another status filter.')
        : emptyState('No calls yet', 'Calls you place appear here with their status, duration and cost.',
          h('a', { class: 'btn btn-primary', href: '#/call' }, 'Place a test call'));
    }
    const cols = ['Started', 'Status', 'To', 'From', 'Workflow', 'Duration', 'Cost'];
    const table = h('table', { class: 'table' },
      h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, runs.map((r) => {
        const href = `#/calls/${enc(r.id)}`;
        return h('tr', { 'data-run': r.id, onclick: (e) => { if (!e.target.closest('a')) location.hash = href; } },
          h('td', { 'data-label': 'Started' }, h('a', { href }, formatDateTime(r.created_at))),
          h('td', { 'data-label': 'Status' }, badge(r.status)),
          h('td', { 'data-label': 'To', class: 'mono' }, r.to_number || '—'),
          h('td', { 'data-label': 'From', class: 'mono' }, r.from_number || '—'),
          h('td', { 'data-label': 'Workflow' }, names[r.workflow_id] || r.workflow_id || '—'),
          h('td', { 'data-label': 'Duration', class: 'num' }, formatDuration(r)),
          h('td', { 'data-label': 'Cost', class: 'num' }, formatCost(r)));
      })));
    const last = Math.min(offset + runs.length, total);
    const pager = h('div', { class: 'pager' },
      h('span', { class: 'muted' }, runs.length ? `${offset + 1}–${last} of ${total}` : `None of ${total}`),
      h('div', { class: 'pager-buttons' },
        h('button', { type: 'button', class: 'btn btn-small', disabled: offset === 0,
          onclick: () => goTo(Math.max(0, offset - PAGE_SIZE)) }, 'Previous'),
        h('button', { type: 'button', class: 'btn btn-small', disabled: last >= total,
          onclick: () => goTo(offset + PAGE_SIZE) }, 'Next')));
    return h('div', { class: 'card table-card' }, table, pager);
  }

  async function renderRunPage(view, id) {
    const box = h('section', { class: 'card live', 'aria-label': 'Call' }, loading('Loading the call…'));
    show(h('a', { class: 'back', href: '#/calls' }, '← All calls'), pageHeader('Call', null), box);
    const names = await workflowNameMap();
    if (view.alive) followRun(view, box, id, names);
  }

  // ---- start ----

  document.getElementById('sign-out').addEventListener('click', () => signOut(null));
  window.addEventListener('hashchange', router);
  router();
})();
