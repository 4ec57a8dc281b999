// The observer page: draws what /api/events sends (a snapshot every tick, each event as it
// happens) without reloading. Plain DOM, no framework: the page must work with no build step.
'use strict';

const token = new URLSearchParams(location.search).get('token');
const withToken = (path) => (token ? `${path}?token=${encodeURIComponent(token)}` : path);
const $ = (id) => document.getElementById(id);

/** How often each supervisor (by path) gave up; one that left the tree stays drawn, marked. */
let gaveUp = {};
/** Restart counts last drawn, by node path and pool name: a rise makes the node flash. */
const drawnRestarts = new Map();
/** Each pool's samples for its charts: the history a page gets when it opens, then each tick's latest. */
const histories = new Map();

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== undefined && child !== null) node.append(child);
  return node;
}

function flash(node) {
  node.classList.remove('flash');
  void node.offsetWidth; // restart the animation
  node.classList.add('flash');
}

// ---- the tree ------------------------------------------------------------------------------

function nodeLabel(node) {
  const label = el('span', { class: 'node' });
  label.append(el('span', { class: 'kind' }, node.type === 'supervisor' ? 'sup' : 'worker'));
  label.append(el('span', { class: 'name' }, node.id ?? node.path.split('/').pop()));
  label.append(el('span', { class: 'status' }, node.status));
  if (node.type === 'supervisor' && node.strategy) {
    label.append(el('span', { class: 'meta' }, `${node.strategy}, intensity ${node.intensity}/${node.period} ms`));
  }
  if (node.pid !== undefined) label.append(el('span', { class: 'meta pid' }, `pid ${node.pid}`));
  label.append(el('span', { class: 'restarts', title: 'restarts' }, `↻ ${node.restarts}`));
  return label;
}

function drawNode(node) {
  const li = el('li', { 'data-path': node.path, 'data-type': node.type, 'data-status': node.status, 'data-restarts': String(node.restarts) });
  const label = nodeLabel(node);
  const gaveUpCount = gaveUp[node.path] ?? 0;
  if (gaveUpCount > 0) {
    li.setAttribute('data-gave-up', String(gaveUpCount));
    label.append(el('span', { class: 'gave-up', title: 'gave up (too many restarts)' }, `gave up ×${gaveUpCount}`));
  }
  li.append(label);
  const before = drawnRestarts.get(node.path);
  if (before !== undefined && node.restarts > before) flash(label);
  drawnRestarts.set(node.path, node.restarts);
  if (node.children.length > 0) li.append(el('ul', {}, ...node.children.map(drawNode)));
  return li;
}

function drawTree(tree) {
  const present = new Set();
  const walk = (nodes) => nodes.forEach((n) => { present.add(n.path); walk(n.children); });
  walk(tree);
  const items = tree.map(drawNode);
  // A supervisor that gave up and left the tree stays on the page, marked.
  for (const path of Object.keys(gaveUp)) {
    if (!present.has(path)) {
      items.push(drawNode({ path, id: path.split('/').pop(), type: 'supervisor', status: 'gave_up', restarts: drawnRestarts.get(path) ?? 0, children: [] }));
    }
  }
  $('tree').replaceChildren(...items);
}

// ---- pools ---------------------------------------------------------------------------------

function sparkline(title, series, second) {
  const width = 100;
  const height = 40;
  const all = second ? series.concat(second) : series;
  const max = Math.max(1e-9, ...all);
  const points = (values) =>
    values.map((v, i) => `${(i / Math.max(1, values.length - 1)) * width},${height - (v / max) * (height - 2) - 1}`).join(' ');
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  for (const [values, cls] of [[series, ''], [second, 'second']]) {
    if (!values) continue;
    const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    line.setAttribute('points', points(values));
    if (cls) line.setAttribute('class', cls);
    svg.append(line);
  }
  const last = series.length ? series[series.length - 1] : 0;
  return el('div', { class: 'chart' }, `${title}: ${format(last)}${second ? ` / ${format(second[second.length - 1] ?? 0)}` : ''}`, svg);
}

function format(n) {
  return n >= 100 ? String(Math.round(n)) : String(Math.round(n * 10) / 10);
}

function drawPool(view) {
  const s = view.latest;
  const h = histories.get(view.name) ?? [];
  const causes = Object.entries(s.restartsByCause).map(([cause, n]) => `${cause} ${n}`).join(', ');
  const panel = el('article', { class: 'pool', 'data-pool': view.name, 'data-restarts': String(s.restarts), 'data-state': s.state });
  panel.append(el('h3', {}, view.name));
  panel.append(
    el('div', { class: 'counts' },
      el('span', {}, 'state ', el('b', {}, s.state)),
      el('span', { 'data-count': 'size' }, 'size ', el('b', {}, String(s.size)), s.min !== s.max ? ` (${s.min}–${s.max})` : ''),
      el('span', { 'data-count': 'ready' }, 'ready ', el('b', {}, String(s.ready))),
      el('span', { 'data-count': 'busy' }, 'busy ', el('b', {}, String(s.busy))),
      s.concurrency > 1
        ? el('span', { 'data-count': 'in-flight' }, 'in flight ', el('b', {}, `${s.inFlight}/${s.capacity}`),
            ` (${Object.entries(s.inFlightByInterpreter ?? {}).map(([worker, n]) => `${worker} ${n}`).join(', ')})`)
        : '',
      el('span', { 'data-count': 'starting' }, 'starting ', el('b', {}, String(s.starting))),
      el('span', { 'data-count': 'stopping' }, 'stopping ', el('b', {}, String(s.stopping))),
      el('span', { 'data-count': 'queued' }, 'queued ', el('b', {}, String(s.queued))),
      s.min !== s.max || s.grown > 0 ? el('span', { 'data-count': 'grown' }, 'grown ', el('b', {}, String(s.grown)), ' shrunk ', el('b', {}, String(s.shrunk))) : '',
      Object.keys(s.hosts ?? {}).length > 0
        ? el('span', { 'data-count': 'hosts' }, 'hosts ', el('b', {}, Object.entries(s.hosts).map(([state, n]) => `${n} ${state}`).join(', ')))
        : '',
      el('span', { 'data-count': 'restarts' }, 'restarts ', el('b', {}, String(s.restarts)), causes ? ` (${causes})` : ''),
    ),
  );
  panel.append(
    el('div', { class: 'charts' },
      sparkline('calls/s', h.map((x) => x.callsPerSecond)),
      sparkline('wait p50/p99 ms', h.map((x) => x.waitP50), h.map((x) => x.waitP99)),
      sparkline('run p50/p99 ms', h.map((x) => x.runP50), h.map((x) => x.runP99)),
      sparkline('queued', h.map((x) => x.queued)),
      ...(s.concurrency > 1 ? [sparkline('in flight', h.map((x) => x.inFlight))] : []),
      sparkline('size', h.map((x) => x.size)),
    ),
  );
  const before = drawnRestarts.get(`pool:${view.name}`);
  if (before !== undefined && s.restarts > before) flash(panel);
  drawnRestarts.set(`pool:${view.name}`, s.restarts);
  return panel;
}

// ---- events --------------------------------------------------------------------------------

function describe(e) {
  const time = new Date(e.at).toISOString().slice(11, 23);
  let text = `${time} ${e.type.padEnd(12)} ${e.path}`;
  if (e.reason) text += `  ${e.reason}`;
  if (e.type === 'restarting') text += `  (attempt ${e.attempt}, in ${e.delay} ms)`;
  return text;
}

function applyFilter(li) {
  const text = $('event-filter').value.toLowerCase();
  const type = $('event-type').value;
  li.hidden = (type !== '' && li.dataset.type !== type) || (text !== '' && !li.textContent.toLowerCase().includes(text));
}

function addEvent(e) {
  const li = el('li', { 'data-type': e.type, 'data-path': e.path }, describe(e));
  applyFilter(li);
  const list = $('events');
  list.prepend(li);
  while (list.children.length > 200) list.lastChild.remove();
}

function refilter() {
  for (const li of $('events').children) applyFilter(li);
}

// ---- the stream ----------------------------------------------------------------------------

function connect() {
  const source = new EventSource(withToken('api/events'));
  source.addEventListener('open', () => {
    $('connection').dataset.state = 'open';
    $('connection').textContent = 'live';
  });
  source.addEventListener('error', () => {
    $('connection').dataset.state = 'closed';
    $('connection').textContent = 'reconnecting…';
  });
  source.addEventListener('events', (m) => {
    $('events').replaceChildren();
    for (const e of JSON.parse(m.data)) addEvent(e);
  });
  source.addEventListener('event', (m) => addEvent(JSON.parse(m.data)));
  source.addEventListener('snapshot', (m) => {
    const snapshot = JSON.parse(m.data);
    gaveUp = snapshot.gaveUp;
    $('system').textContent = snapshot.system;
    // system.down: the root exited for good (or the system was stopped); nothing restarts it.
    const down = snapshot.down;
    $('down').hidden = !down;
    if (down) {
      $('down').dataset.cause = down.cause;
      $('down').textContent = down.cause === 'stop' ? 'system stopped' : `system down: ${down.path} exited (${down.reason})`;
    }
    for (const view of snapshot.pools) {
      if (view.history) histories.set(view.name, view.history);
      else {
        const h = histories.get(view.name) ?? [];
        if (h.length === 0 || h[h.length - 1].at !== view.latest.at) h.push(view.latest);
        if (h.length > snapshot.historyLimit) h.splice(0, h.length - snapshot.historyLimit);
        histories.set(view.name, h);
      }
    }
    drawTree(snapshot.tree);
    $('pools').replaceChildren(...snapshot.pools.map(drawPool));
    document.body.dataset.updated = String(snapshot.at);
  });
}

$('event-filter').addEventListener('input', refilter);
$('event-type').addEventListener('change', refilter);
connect();
