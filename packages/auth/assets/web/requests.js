// The reviewers' page in the browser: pending access requests the signed-in
// user may decide on (GET /v1/access-requests?state=pending, the ones marked
// reviewable), each with a reason field and Approve / Deny buttons that POST
// /v1/access-requests/<id>/reviews. The cookie goes along by itself; the
// browser adds Origin and Sec-Fetch-Site, without which the server does not
// act on the cookie for a POST. What the API returns goes into the page as
// text nodes, never as HTML.

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

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
    credentials: 'same-origin',
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, answer.error || {});
  return answer;
}

const pad = (n) => String(n).padStart(2, '0');

/** Local time, to the second, with the offset, as the CLI shows it. */
function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  const offset = -d.getTimezoneOffset();
  const zone = `${offset < 0 ? '-' : '+'}${pad(Math.trunc(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zone}`;
}

/** 7200000 → "2h", 5400000 → "1h30m", as ztsh request shows it. */
function duration(ms) {
  let rest = Math.round(ms / 1000);
  let out = '';
  for (const [unit, seconds] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]]) {
    const n = Math.floor(rest / seconds);
    rest -= n * seconds;
    if (n > 0) out += `${n}${unit}`;
  }
  return out || '0s';
}

const resource = (r) => `/${r.cluster}/pod/${r.namespace}/${r.name}`;
const asked = (r) => [...r.roles.map((role) => `role ${role}`), ...r.resources.map(resource)].join(', ');
const approvals = (r) => `${r.reviews.filter((v) => v.decision === 'approve').length} of ${r.thresholds.approve}`;

function showError(place, error) {
  const ended = error instanceof ApiError && error.status === 401;
  place.replaceChildren(
    h('span', { class: 'error', role: 'alert' }, ended ? 'Your sign-in has ended. ' : error.message),
    ended ? h('a', { href: '/web/login' }, 'Sign in again') : '',
    error.hint && !ended ? h('span', { class: 'hint' }, ` ${error.hint}`) : '',
  );
}

/** The decision cell: a reason, two buttons, and where the outcome is said. */
function decide(request, row) {
  const reason = h('input', { name: 'reason', placeholder: 'reason (required)', autocomplete: 'off', maxlength: 1024, 'aria-label': `Reason for request ${request.id}` });
  const outcome = h('span', { class: 'outcome', role: 'status' });
  const form = h('form', { class: 'review' }, reason, h('button', { type: 'submit', value: 'approve' }, 'Approve'), h('button', { type: 'submit', value: 'deny', class: 'quiet' }, 'Deny'), outcome);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const decision = event.submitter?.value === 'deny' ? 'deny' : 'approve';
    if (!reason.value.trim()) {
      outcome.replaceChildren(h('span', { class: 'error', role: 'alert' }, 'Give a reason first.'));
      reason.focus();
      return;
    }
    for (const b of form.querySelectorAll('button')) b.disabled = true;
    try {
      const after = await api('POST', `/v1/access-requests/${encodeURIComponent(request.id)}/reviews`, { decision, reason: reason.value });
      row.querySelector('td.state').textContent = after.state;
      row.querySelector('td.approvals').textContent = approvals(after);
      row.dataset.state = after.state;
      reason.disabled = true;
      outcome.replaceChildren(
        h('span', { class: decision === 'approve' ? 'good' : 'bad' }, `${decision === 'approve' ? 'Approved' : 'Denied'}${after.state === 'pending' ? ' (more approvals needed)' : ''}.`),
      );
    } catch (error) {
      for (const b of form.querySelectorAll('button')) b.disabled = false;
      showError(outcome, error);
    }
  });
  return form;
}

function requestRow(r) {
  const row = h(
    'tr',
    { 'data-request': r.id, 'data-state': r.state },
    h('td', { class: 'time' }, when(r.createdAt)),
    h('td', {}, r.user),
    h('td', {}, asked(r)),
    h('td', {}, duration(r.durationMs)),
    h('td', { class: 'what' }, r.reason),
    h('td', { class: 'approvals' }, approvals(r)),
    h('td', { class: 'state' }, r.state),
    h('td', { class: 'mono' }, r.id),
  );
  row.append(h('td', {}, decide(r, row)));
  return row;
}

async function load() {
  const root = h('div', { class: 'view' });
  app.replaceChildren(root);
  const status = h('p', { class: 'status' }, 'Loading…');
  root.append(h('h1', {}, 'Access requests waiting for you'), status);
  try {
    const { requests } = await api('GET', '/v1/access-requests?state=pending');
    const mine = requests.filter((r) => r.reviewable);
    if (mine.length === 0) {
      status.textContent = 'No pending request for you to review.';
      return;
    }
    status.textContent = '';
    const body = h('tbody', {}, mine.map(requestRow));
    const head = ['Created', 'User', 'Asked for', 'For', 'Reason', 'Approvals', 'State', 'Request', 'Decision'];
    root.append(h('table', { class: 'list', id: 'requests' }, h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col' }, t)))), body));
  } catch (error) {
    showError(status, error);
  }
}

for (const t of document.querySelectorAll('header.bar time[datetime]')) t.textContent = when(t.dateTime);
document.getElementById('reload')?.addEventListener('click', load);
load();
