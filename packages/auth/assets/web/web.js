// The auditors' page in the browser: sessions and audit events from the JSON
// API (same-origin fetch; the HttpOnly session cookie goes along by itself),
// and one session with its metadata, its audit events and a replay in the
// asciinema player. The view and its filters live in the URL's hash, so the
// back button and shared links work:
//   #sessions?user=alice&since=24h   #events?type=kube.&outcome=failure   #session/<id>
// What the API returns goes into the page as text nodes, never as HTML.

const app = document.getElementById('app');

/** h('a', { href: '#x', class: 'y' }, 'text', otherNode, [more, nodes]) */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') el.className = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `the server answered ${status}`);
    this.status = status;
    this.hint = error.hint;
  }
}

async function api(path, params = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params)) if (value) url.searchParams.set(name, value);
  const res = await fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, body.error || {});
  return body;
}

// Formatting ---------------------------------------------------------------

const pad = (n) => String(n).padStart(2, '0');

/** Local time, to the second, with the offset, as the CLI shows it: 2026-11-23 10:04:05 +01:00 */
function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  const offset = -d.getTimezoneOffset();
  const zone = `${offset < 0 ? '-' : '+'}${pad(Math.trunc(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zone}`;
}

function duration(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function bytes(n) {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

const target = (s) => `${s.namespace}/${s.pod}${s.container ? ` (${s.container})` : ''}`;
const commandOf = (s) => (s.command.length ? s.command.join(' ') : `(${s.kind})`);
const sessionHref = (id) => `#session/${encodeURIComponent(id)}`;

/** One line about an event, for lists. */
function what(e) {
  const f = e.fields;
  if (e.type === 'kube.request') {
    const resource = f.resource ? `${f.resource}${f.subresource ? `/${f.subresource}` : ''}` : f.path;
    const place = [f.namespace && `in ${f.namespace}`, f.name].filter(Boolean).join(' ');
    return `${f.verb || f.method || ''} ${resource || ''} ${place} → ${f.status ?? ''}${e.message ? ` (${e.message})` : ''}`;
  }
  if (e.message) return e.message;
  return Object.entries(f)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

// Views ----------------------------------------------------------------------

/** A filter form; submitting it moves to `view` with the filled-in fields in the hash. */
function filterForm(view, fields, values) {
  const form = h('form', { class: 'filters', role: 'search', id: `${view}-filters` });
  for (const f of fields) {
    const control = f.options
      ? h('select', { name: f.name }, f.options.map(([value, label]) => h('option', { value, selected: (values[f.name] || '') === value }, label)))
      : h('input', { name: f.name, value: values[f.name] || '', placeholder: f.placeholder, autocomplete: 'off' });
    form.append(h('label', {}, f.label, control));
  }
  form.append(h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go(view, Object.fromEntries(new FormData(form)));
  });
  return form;
}

function listTable(id, headings) {
  const body = h('tbody');
  const table = h('table', { class: 'list', id }, h('thead', {}, h('tr', {}, headings.map((t) => h('th', { scope: 'col' }, t)))), body);
  return { table, body };
}

/** Fills a table page by page; "Older" asks for the next page while the API says there is one. */
async function paged(container, body, fetchPage, rowsOf, emptyText) {
  const status = h('p', { class: 'status' }, 'Loading…');
  const more = h('button', { type: 'button', class: 'quiet more', hidden: true }, 'Older');
  container.append(status, more);
  let cursor;
  const load = async () => {
    more.disabled = true;
    const page = await fetchPage(cursor);
    body.append(...rowsOf(page));
    cursor = page.next;
    more.hidden = !cursor;
    more.disabled = false;
    status.textContent = body.children.length ? '' : emptyText;
  };
  more.addEventListener('click', () => load().catch((error) => showError(container, error)));
  await load();
}

const SESSION_FILTERS = [
  { name: 'user', label: 'User' },
  { name: 'cluster', label: 'Cluster' },
  { name: 'kind', label: 'Kind', options: [['', 'any'], ['exec', 'exec'], ['attach', 'attach'], ['cp', 'cp'], ['portforward', 'port-forward']] },
  { name: 'since', label: 'Since', placeholder: '24h or 2026-11-23' },
  { name: 'q', label: 'Text typed or shown', placeholder: 'words' },
];

function sessionRow(s) {
  const ended = s.endedAt ? duration(Date.parse(s.endedAt) - Date.parse(s.startedAt)) : 'running';
  return h(
    'tr',
    { 'data-session': s.id },
    h('td', { class: 'time' }, when(s.startedAt)),
    h('td', {}, s.user),
    h('td', {}, s.cluster),
    h('td', {}, s.kind),
    h('td', {}, target(s)),
    h('td', { class: 'what mono' }, h('a', { href: sessionHref(s.id) }, commandOf(s))),
    h('td', {}, s.exitCode ?? '—'),
    h('td', {}, ended),
  );
}

async function sessionsView(root, params) {
  const { table, body } = listTable('sessions', ['Started', 'User', 'Cluster', 'Kind', 'Pod', 'Command', 'Exit', 'Duration']);
  root.append(h('h1', {}, 'Sessions'), filterForm('sessions', SESSION_FILTERS, params), table);
  await paged(root, body, (before) => api('/v1/recordings', { ...params, limit: 50, before }), (page) => page.sessions.map(sessionRow), 'No session matches.');
}

const EVENT_FILTERS = [
  { name: 'user', label: 'User' },
  { name: 'cluster', label: 'Cluster' },
  { name: 'type', label: 'Type', placeholder: 'kube. or user.login' },
  { name: 'outcome', label: 'Outcome', options: [['', 'any'], ['success', 'success'], ['failure', 'failure']] },
  { name: 'since', label: 'Since', placeholder: '24h or 2026-11-23' },
  { name: 'request', label: 'Access request', placeholder: 'request id' },
  { name: 'q', label: 'Text', placeholder: 'words' },
];

function eventRow(e) {
  const session = e.fields.sessionId;
  return h(
    'tr',
    { class: e.success ? 'success' : 'failure' },
    h('td', { class: 'time' }, when(e.time)),
    h('td', {}, e.type),
    h('td', { class: 'outcome' }, e.success ? 'success' : 'failure'),
    h('td', {}, e.user || '—'),
    h('td', {}, e.fields.cluster || '—'),
    h('td', { class: 'what' }, what(e)),
    h('td', {}, session ? h('a', { href: sessionHref(session) }, 'session') : ''),
  );
}

async function eventsView(root, params) {
  const { table, body } = listTable('events', ['Time', 'Type', 'Outcome', 'User', 'Cluster', 'What', '']);
  root.append(h('h1', {}, 'Audit events'), filterForm('events', EVENT_FILTERS, params), table);
  await paged(root, body, (before) => api('/v1/audit/events', { ...params, limit: 100, before }), (page) => page.events.map(eventRow), 'No event matches.');
}

function metadata(s) {
  const rows = [
    ['User', s.user],
    ['Roles', s.roles.join(', ')],
    ['Kubernetes user', s.kubernetesUser],
    ['Kubernetes groups', s.kubernetesGroups.join(', ') || '—'],
    ['Cluster', s.cluster],
    ['Namespace', s.namespace],
    ['Pod', s.pod],
    ['Container', s.container || '(default)'],
    ['Command', commandOf(s)],
    ['TTY', s.tty ? 'yes' : 'no'],
    ['Client IP', s.clientIp || '—'],
    ['Started', when(s.startedAt)],
    ['Ended', s.endedAt ? when(s.endedAt) : 'still running'],
    ['Duration', s.endedAt ? duration(Date.parse(s.endedAt) - Date.parse(s.startedAt)) : '—'],
    ['Exit code', s.exitCode ?? '—'],
    ['End reason', s.endReason || (s.endedAt ? 'ended by itself' : '—')],
    ['Bytes in / out', `${bytes(s.bytesIn)} / ${bytes(s.bytesOut)}`],
    ['Recording', s.recorded ? bytes(s.recordingSize) : 'none'],
    ['Session id', h('code', {}, s.id)],
  ];
  return h('dl', { class: 'meta', id: 'session-meta' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function eventItem(e) {
  return h(
    'li',
    { class: e.success ? 'success' : 'failure' },
    h('span', { class: 'type' }, e.type), ' ', h('span', { class: 'muted' }, when(e.time)),
    h('div', {}, what(e)),
    h('details', {}, h('summary', { class: 'fields' }, 'all fields'), h('pre', { class: 'fields' }, JSON.stringify(e.fields, null, 2))),
  );
}

let player;
let lastList = '#sessions';

/** Below this the replay is hard to read: a wide terminal keeps it and scrolls sideways instead. */
const MIN_FONT_PX = 13;
/** A monospace cell is about 0.6 of the font size wide. */
const CELL_WIDTH_EM = 0.6;

/** The widest the terminal gets in a recording: its header's width, or a later resize. */
function castColumns(text) {
  const newline = text.indexOf('\n');
  let cols = Number(JSON.parse(newline < 0 ? text : text.slice(0, newline)).width) || 80;
  for (const m of text.matchAll(/,\s*"r"\s*,\s*"(\d+)x\d+"/g)) cols = Math.max(cols, Number(m[1]));
  return cols;
}

/** Fit to the width when that stays legible, else a fixed legible size (the .player box scrolls). */
function sizing(cols, width) {
  return width / (cols * CELL_WIDTH_EM) >= MIN_FONT_PX ? { fit: 'width' } : { fit: false, terminalFontSize: `${MIN_FONT_PX}px` };
}

async function sessionView(root, id) {
  const { session: s, events } = await api(`/v1/recordings/${encodeURIComponent(id)}`);
  // Moved on while this loaded: the root is no longer on the page.
  if (!root.isConnected) return;
  const screen = h('div', { class: 'player', id: 'player' });
  const replay = s.recorded
    ? [screen, h('p', { class: 'muted' }, 'Pauses longer than 2 s are shortened in the replay.')]
    : h('p', { class: 'muted' }, s.kind === 'portforward' ? 'Port-forward sessions keep no content: their start, end and bytes only.' : 'This session has no recording.');
  root.append(
    h('p', {}, h('a', { href: lastList }, '← back to the list')),
    h('h1', {}, `${s.user}: ${s.kind} ${target(s)}`),
    h(
      'div',
      { class: 'session' },
      h('section', { class: 'panel' }, h('h2', {}, 'Replay'), replay, h('h2', {}, 'Session'), metadata(s)),
      h('section', { class: 'panel' }, h('h2', {}, `Audit events of this session (${events.length})`), h('ol', { class: 'events', id: 'session-events' }, events.map(eventItem))),
    ),
  );
  if (s.recorded) {
    // Fetched here, not by the player, to size the terminal by its width before it is drawn.
    const res = await fetch(`/v1/recordings/${encodeURIComponent(s.id)}/cast`, { credentials: 'same-origin' });
    if (!res.ok) throw new ApiError(res.status, (await res.json().catch(() => ({}))).error || {});
    const cast = await res.text();
    if (!root.isConnected) return;
    const size = sizing(castColumns(cast), screen.clientWidth);
    screen.classList.toggle('wide', size.fit === false);
    player = window.AsciinemaPlayer.create({ data: cast }, screen, { preload: true, idleTimeLimit: 2, ...size });
  }
}

// Routing --------------------------------------------------------------------

function go(view, params) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
  window.location.hash = query ? `${view}?${query}` : view;
}

function showError(root, error) {
  const ended = error instanceof ApiError && error.status === 401;
  root.append(
    h('p', { class: 'status error', role: 'alert' }, ended ? 'Your sign-in has ended. ' : error.message, ended ? h('a', { href: '/web/login' }, 'Sign in again') : ''),
    error.hint && !ended ? h('p', { class: 'hint' }, error.hint) : '',
  );
}

async function route() {
  const [view, query = ''] = window.location.hash.replace(/^#/, '').split('?');
  const params = Object.fromEntries(new URLSearchParams(query));
  const [name, id] = view.split('/');
  if (player) player.dispose();
  player = undefined;
  // Each view draws into its own element, so a late answer for a view left
  // behind lands in a detached element, not in the page.
  const root = h('div', { class: 'view' });
  app.replaceChildren(root);
  const list = name === 'events' ? 'events' : name === 'session' && id ? null : 'sessions';
  if (list) lastList = window.location.hash || '#sessions';
  for (const link of document.querySelectorAll('header.bar nav a')) link.classList.toggle('current', link.id === `nav-${list ?? 'sessions'}`);
  try {
    if (!list) await sessionView(root, decodeURIComponent(id));
    else if (list === 'events') await eventsView(root, params);
    else await sessionsView(root, params);
  } catch (error) {
    showError(root, error);
  }
}

for (const t of document.querySelectorAll('header.bar time[datetime]')) t.textContent = when(t.dateTime);
window.addEventListener('hashchange', route);
route();
