// The API reference page (/api/docs): renders /api/v1/openapi.json — operations by tag, their
// parameters, request body, responses with status codes and schemas, then the named schemas.
'use strict';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

const refName = (ref) => ref.replace('#/components/schemas/', '');
let components = {};

/* A one-line type: string, integer, "a" | "b", Name (a link), array of …, string | null. */
function typeOf(s) {
  if (!s || typeof s !== 'object') return el('span', { class: 'type' }, 'any');
  if (s.$ref) {
    const link = el('a', { class: 'ref type', href: '#schema-' + refName(s.$ref) }, refName(s.$ref));
    const target = components[refName(s.$ref)] || {};
    const codes = target.properties && target.properties.error && target.properties.error.properties.code.enum;
    return codes ? el('span', {}, link, el('span', { class: 'muted' }, ' code: '), el('code', {}, codes.join(' | '))) : link;
  }
  if (s.const !== undefined) return el('span', { class: 'type' }, JSON.stringify(s.const));
  if (s.enum) return el('span', { class: 'type' }, s.enum.map((x) => JSON.stringify(x)).join(' | '));
  if (s.oneOf || s.anyOf) return el('span', {}, ...(s.oneOf || s.anyOf).flatMap((x, i) => (i ? [' | ', typeOf(x)] : [typeOf(x)])));
  if (s.allOf) return el('span', {}, ...s.allOf.flatMap((x, i) => (i ? [' & ', typeOf(x)] : [typeOf(x)])));
  const t = Array.isArray(s.type) ? s.type.join(' | ') : s.type;
  if (t === 'array') return el('span', {}, el('span', { class: 'type' }, 'array of '), typeOf(s.items));
  let text = t || (s.properties ? 'object' : 'any');
  if (s.format) text += ` (${s.format})`;
  if (s.contentMediaType) text += ` (${s.contentMediaType})`;
  if (s.minimum !== undefined || s.maximum !== undefined) text += ` [${s.minimum ?? ''}…${s.maximum ?? ''}]`;
  return el('span', { class: 'type' }, text);
}

/* A schema: its type, and for objects the properties (required ones marked), nested one level at a time. */
function schemaView(s, depth = 0, expand = false) {
  const box = el('div');
  if (!s) return box;
  // A body's own schema is shown with its fields (a link leads to the named schema too).
  if (expand && s.$ref && !s.properties && components[refName(s.$ref)]) {
    const target = components[refName(s.$ref)];
    box.append(typeOf(s));
    if (target.properties || target.items || target.allOf) {
      const inner = schemaView({ ...target, description: undefined }, depth);
      inner.firstChild.remove();
      box.append(inner);
    }
    return box;
  }
  box.append(typeOf(s));
  if (s.description) box.append(el('span', { class: 'muted' }, ' — ' + s.description));
  const props = s.properties || (s.type === 'array' && s.items && s.items.properties);
  if (props && !s.$ref && depth < 4) {
    const req = new Set(s.required || (s.items && s.items.required) || []);
    const ul = el('ul', { class: 'schema' });
    for (const [name, p] of Object.entries(props)) {
      const li = el('li', {}, el('code', {}, name), req.has(name) ? el('span', { class: 'req' }, ' required') : null, ': ');
      li.append(schemaView(p, depth + 1));
      ul.append(li);
    }
    if (s.additionalProperties === false) ul.append(el('li', { class: 'muted' }, 'no other fields'));
    box.append(ul);
  }
  return box;
}

function contentView(content, expand) {
  const wrap = el('div');
  for (const [type, media] of Object.entries(content || {})) {
    wrap.append(el('div', {}, el('code', {}, type)), schemaView(media.schema, 0, expand));
  }
  return wrap;
}

function operationView(path, method, op) {
  const ni = op['x-doppel-status'] === 'not_implemented';
  const head = el('summary', {},
    el('span', { class: `method ${method}` }, method.toUpperCase()),
    el('span', { class: 'path' }, path),
    el('span', { class: 'summary' }, op.summary || ''),
    ni ? el('span', { class: 'badge ni' }, 'not implemented') : (op.security && !op.security.length ? el('span', { class: 'badge' }, 'no auth') : null));
  const body = el('div', { class: 'body' });
  if (op.description) body.append(el('p', { class: 'desc' }, op.description));
  if (op.parameters && op.parameters.length) {
    const t = el('table', {}, el('tr', {}, el('th', {}, 'Parameter'), el('th', {}, 'In'), el('th', {}, 'Type'), el('th', {}, 'Description')));
    for (const p of op.parameters) {
      t.append(el('tr', {}, el('td', {}, el('code', {}, p.name), p.required ? el('span', { class: 'req' }, ' required') : null),
        el('td', {}, p.in), el('td', {}, typeOf(p.schema)), el('td', {}, p.description || '')));
    }
    body.append(el('h4', {}, 'Parameters'), t);
  }
  if (op.requestBody) body.append(el('h4', {}, op.requestBody.required ? 'Request body (required)' : 'Request body'), contentView(op.requestBody.content, true));
  const t = el('table', {}, el('tr', {}, el('th', {}, 'Status'), el('th', {}, 'Meaning'), el('th', {}, 'Body')));
  for (const [status, r] of Object.entries(op.responses || {}).sort()) {
    t.append(el('tr', {}, el('td', {}, el('span', { class: `status s${status[0]}` }, status)), el('td', {}, r.description || ''),
      el('td', {}, contentView(r.content, status[0] === '2'))));
  }
  body.append(el('h4', {}, 'Responses'), t);
  const d = el('details', { class: 'op', id: op.operationId || '' }, head, body);
  d.dataset.search = `${method} ${path} ${op.summary || ''} ${(op.tags || []).join(' ')}`.toLowerCase();
  return d;
}

function render(doc) {
  components = (doc.components && doc.components.schemas) || {};
  const main = document.getElementById('doc');
  const toc = document.getElementById('toc');
  main.textContent = '';
  document.title = `${doc.info.title} ${doc.info.version}`;
  main.append(el('p', { class: 'intro' }, `${doc.info.title} ${doc.info.version} (OpenAPI ${doc.openapi}). ${doc.info.description || ''}`));
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const m of METHODS) {
      if (!item[m]) continue;
      const tag = (item[m].tags && item[m].tags[0]) || 'misc';
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([path, m, item[m]]);
    }
  }
  for (const [tag, ops] of byTag) {
    const section = el('section', { id: 'tag-' + tag }, el('h2', {}, tag));
    for (const [p, m, op] of ops) section.append(operationView(p, m, op));
    main.append(section);
    toc.append(el('a', { href: '#tag-' + tag }, tag, el('span', { class: 'count' }, ` (${ops.length})`)));
  }
  const schemas = (doc.components && doc.components.schemas) || {};
  const sec = el('section', { id: 'schemas' }, el('h2', {}, 'Schemas'));
  for (const name of Object.keys(schemas).sort()) {
    sec.append(el('div', { class: 'component', id: 'schema-' + name }, el('h3', {}, name), schemaView(schemas[name])));
  }
  main.append(sec);
  toc.append(el('a', { href: '#schemas' }, 'Schemas', el('span', { class: 'count' }, ` (${Object.keys(schemas).length})`)));
  if (location.hash) {
    const target = document.getElementById(location.hash.slice(1));
    if (target) {
      if (target.tagName === 'DETAILS') target.open = true;
      target.scrollIntoView();
    }
  }
}

document.getElementById('filter').addEventListener('input', (e) => {
  const q = e.target.value.trim().toLowerCase();
  for (const d of document.querySelectorAll('details.op')) d.classList.toggle('hidden', q !== '' && !d.dataset.search.includes(q));
});

fetch('/api/v1/openapi.json')
  .then((r) => {
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    return r.json();
  })
  .then(render)
  .catch((e) => {
    document.getElementById('doc').textContent = `The document could not be loaded: ${e.message}`;
  });
