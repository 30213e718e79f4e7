// The contract check: every response the API suite receives through the shared helpers (get, postJson,
// api, apiFrom, request, rawRequest) is checked against the server's own OpenAPI document, so that the
// document cannot drift from the code. A response fails the test that made it when
//   - its route (method + path template) is not in the document (API paths only; /api/v1/_test/* is
//     exempt: test routes are hidden from the document),
//   - its status is not among the operation's responses,
//   - its Content-Type is not one the response documents (or it has a body where none is documented),
//   - its JSON body does not match the response's schema (JSON Schema 2020-12, formats checked).
// Bodies that are not JSON (audio, exports, SSE, static files) are checked for status and type only.
//
//   DOPPEL_CONTRACT=off     turns the check off (e.g. to bisect a failure)
//   DOPPEL_CONTRACT_RECORD  a directory: also append every response there as JSON lines (for writing schemas)
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const API_PATH = /^(\/api\/|\/api$|\/v1\/|\/health$|\/ready$|\/metrics$|\/ws_)/;
const EXEMPT = /^\/api\/v1\/_test(\/|$)/;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

export class ContractError extends Error {}

let contract = null; // Promise<{doc, routes, ajv}>, one per process: every server runs the same binary

/* The document of the binary the suite runs, from a server of its own (cached per binary build). */
async function loadDocument(bin) {
  const st = fs.statSync(bin);
  const cache = path.join(os.tmpdir(), `doppel-openapi-${st.size}-${Math.floor(st.mtimeMs)}-${st.ino}.json`);
  try {
    return JSON.parse(fs.readFileSync(cache, 'utf8'));
  } catch {}
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'doppel-contract-'));
  const proc = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--log-level', 'error'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const port = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('contract: the server for the OpenAPI document did not start')), 30000);
      proc.stdout.setEncoding('utf8');
      proc.stdout.on('data', (d) => {
        out += d;
        const m = /open http:\/\/[^\s/]+:(\d+)\//.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`contract: the server for the OpenAPI document exited (${code})`));
      });
    });
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/openapi.json`);
    const text = await res.text();
    const tmp = `${cache}.${process.pid}`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, cache);
    return JSON.parse(text);
  } finally {
    proc.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/* Path templates as regular expressions; literal segments win over parameters (/users/search over /users/{id}). */
function compileRoutes(doc) {
  const routes = Object.keys(doc.paths).map((p) => ({
    template: p,
    params: (p.match(/\{/g) || []).length,
    re: new RegExp('^' + p.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+') + '$'),
  }));
  return routes.sort((a, b) => a.params - b.params);
}

async function getContract(bin) {
  if (!contract) {
    contract = (async () => {
      const doc = await loadDocument(bin);
      const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
      addFormats(ajv);
      // One root holding the components, so that "#/components/schemas/X" resolves from every schema.
      ajv.addSchema({ $id: 'urn:doppel:openapi', components: doc.components, $defs: {} });
      return { doc, routes: compileRoutes(doc), ajv, validators: new Map() };
    })();
  }
  return contract;
}

/* The document (for tests that check it). */
export async function contractDocument(bin) {
  return (await getContract(bin)).doc;
}

function validatorFor(c, key, schema) {
  let v = c.validators.get(key);
  if (!v) {
    // A schema compiled under the root's id: its "#/components/…" references resolve against the root.
    const id = `urn:doppel:openapi:r${c.validators.size}`;
    c.ajv.addSchema({ ...schema, $id: id, components: c.doc.components });
    v = c.ajv.getSchema(id);
    c.validators.set(key, v);
  }
  return v;
}

function mediaMatches(pattern, type) {
  if (pattern === '*/*') return true;
  if (pattern.endsWith('/*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

function show(v) {
  const s = JSON.stringify(v);
  return s === undefined ? 'undefined' : s.length > 300 ? s.slice(0, 300) + '…' : s;
}

/*
 * Checks one response. base: the server's URL; method; p: the path asked for (with the query); r: {status,
 * text, json, headers}; contentType: the response's Content-Type. Throws a ContractError naming the route,
 * the status and what does not match.
 */
export async function checkResponse(base, method, p, r, contentType, bin) {
  const dir = process.env.DOPPEL_CONTRACT_RECORD;
  const m = (method || 'GET').toUpperCase();
  if (dir) {
    const text = r.text ?? '';
    fs.appendFileSync(path.join(dir, `rec-${process.pid}.jsonl`),
      JSON.stringify({ method: m, path: p, status: r.status, ctype: contentType || '', body: text.length > 20000 ? text.slice(0, 200) : text }) + '\n');
  }
  if (process.env.DOPPEL_CONTRACT === 'off' || r.status === undefined) return;
  let pathname;
  try {
    pathname = new URL(p, 'http://x').pathname;
  } catch {
    return;
  }
  if (EXEMPT.test(pathname)) return;
  const c = await getContract(bin);
  const what = `${m} ${pathname} → ${r.status}`;
  const fail = (msg) => {
    throw new ContractError(`contract: ${what}: ${msg}\n  body: ${show(r.text)}`);
  };
  const type = (contentType || '').split(';')[0].trim().toLowerCase();
  const route = c.routes.find((x) => x.re.test(pathname));
  const lower = m === 'HEAD' ? 'get' : m.toLowerCase();
  const op = route && c.doc.paths[route.template][lower];
  if (!op) {
    if (!API_PATH.test(pathname)) return; // static files (the browser UI): not part of the API
    if (m === 'OPTIONS') return; // CORS pre-flight
    // No such route or method: the generic answers (404, 405, 501 unknown method …) are Error bodies.
    if (r.status < 400) fail(`this route is not in the document (${route ? route.template : 'no path matches'})`);
    if (m !== 'HEAD' && r.text) checkJson(c, 'Error', { $ref: '#/components/schemas/Error' }, r, fail);
    return;
  }
  const at = `${m} ${route.template}`;
  const resp = op.responses[String(r.status)];
  if (!resp)
    fail(`status ${r.status} is not documented for ${at} (documented: ${Object.keys(op.responses).join(', ')})`);
  if (m === 'HEAD') return;
  const content = resp.content || {};
  const types = Object.keys(content);
  if (!types.length) {
    if (r.text) fail(`${at} documents no body for ${r.status}, got ${type || 'a body'}`);
    return;
  }
  if (!r.text && r.status === 200 && types.every((t) => !t.includes('json'))) return; // an empty file
  const matched = types.find((t) => mediaMatches(t, type));
  if (!matched) fail(`Content-Type ${type || '(none)'} is not documented for ${at} ${r.status} (documented: ${types.join(', ')})`);
  if (!/[/+]json$/.test(matched) || !content[matched].schema) return;
  checkJson(c, `${at} ${r.status} ${matched}`, content[matched].schema, r, fail);
}

function checkJson(c, key, schema, r, fail) {
  let body = r.json;
  if (body === undefined) {
    try {
      body = JSON.parse(r.text);
    } catch {
      fail('the body is not JSON');
    }
  }
  const v = validatorFor(c, key, schema);
  if (!v(body)) {
    const errs = v.errors
      .slice(0, 5)
      .map((e) => `${e.instancePath || '(body)'} ${e.message}${e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : ''}${e.params && e.params.allowedValues ? ` ${show(e.params.allowedValues)}` : ''}`)
      .join('; ');
    fail(`the body does not match the schema of ${key}: ${errs}`);
  }
}
