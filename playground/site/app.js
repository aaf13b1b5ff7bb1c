// The playground page: editors, samples, running the guest in a worker, showing the result,
// and keeping the state in the URL fragment and localStorage.
const $ = (id) => document.getElementById(id);
const DEADLINE_MS = 2000; // policy-server's default --policy-timeout
const STORAGE_KEY = 'kepguard-playground';

let samples = { policies: [], cases: [] };
let modules = new Map(); // policy name or 'file:<name>' -> ArrayBuffer
let current = { key: '', expected: null };
let worker = null;
let nextId = 1;
const pending = new Map();

function startWorker() {
  worker = new Worker('worker.js', { type: 'module' });
  worker.onmessage = ({ data }) => {
    const waiter = pending.get(data.id);
    if (waiter) { pending.delete(data.id); clearTimeout(waiter.timer); waiter.resolve(data); }
  };
  worker.onerror = (event) => {
    for (const [id, waiter] of pending) { clearTimeout(waiter.timer); waiter.resolve({ id, error: `the worker failed: ${event.message}` }); }
    pending.clear();
  };
}

/** Sends a message to the worker; if no answer comes within the deadline, the worker (and
 *  the guest looping in it) is terminated and a fresh one started. */
function ask(message, deadline = DEADLINE_MS) {
  const id = nextId++;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      worker.terminate();
      for (const [, waiter] of pending) { clearTimeout(waiter.timer); waiter.resolve({ error: 'the worker was restarted' }); }
      pending.clear();
      startWorker();
      resolve({ id, error: `the evaluation did not finish within ${deadline} ms: the guest was stopped (an endless loop?)` });
    }, deadline);
    pending.set(id, { resolve, timer });
    // The bytes are copied, not transferred: the page keeps its module for later runs.
    worker.postMessage({ ...message, id });
  });
}

async function moduleBytes(key) {
  if (modules.has(key)) return modules.get(key);
  const policy = samples.policies.find((p) => p.name === key);
  if (!policy) throw new Error(`no module for ${key}`);
  const response = await fetch(policy.module);
  if (!response.ok) throw new Error(`cannot fetch ${policy.module}: ${response.status}`);
  const bytes = await response.arrayBuffer();
  modules.set(key, bytes);
  return bytes;
}

function showMetadata(metadata) {
  if (!metadata) { $('module-info').textContent = 'This module carries no io.kubewarden.metadata.'; return; }
  try {
    const m = JSON.parse(metadata);
    const annotations = m.annotations || {};
    const rules = (m.rules || []).map((r) => `${(r.operations || []).join('/')} ${(r.resources || []).join(',')}`).join('; ');
    $('module-info').textContent =
      `${annotations['io.kubewarden.policy.title'] ?? '(untitled)'} ${annotations['io.kubewarden.policy.version'] ?? ''}` +
      ` · ${m.mutating ? 'mutating' : 'validating'} · rules: ${rules || 'none'}`;
  } catch {
    $('module-info').textContent = 'The module\'s io.kubewarden.metadata is not JSON.';
  }
}

async function selectModule(key) {
  current.key = key;
  $('status').textContent = `loading ${key}…`;
  try {
    const bytes = await moduleBytes(key);
    const answer = await ask({ type: 'load', key, bytes }, 20000);
    if (answer.error) {
      $('module-info').textContent = `Cannot use this module: ${answer.error}`;
      $('status').textContent = '';
      return false;
    }
    showMetadata(answer.metadata);
    $('status').textContent = `${key} compiled in ${answer.ms.toFixed(1)} ms`;
    return true;
  } catch (error) {
    $('module-info').textContent = `Cannot use this module: ${error.message}`;
    $('status').textContent = '';
    return false;
  }
}

function options() {
  return JSON.stringify({
    operation: $('operation').value, subResource: $('sub-resource').value.trim(),
    namespace: $('namespace').value.trim(), oldObject: $('old-object').value, userInfo: $('user-info').value,
  });
}

// A line diff (longest common subsequence) of the input object and the patched object.
function lineDiff(before, after) {
  const a = before.split('\n'), b = after.split('\n');
  if (a.length * b.length > 4e6) return after.split('\n').map((line) => ({ kind: ' ', line }));
  const n = a.length, m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--)
    lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) { out.push({ kind: ' ', line: a[i] }); i++; j++; }
    else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) { out.push({ kind: '+', line: b[j] }); j++; }
    else { out.push({ kind: '-', line: a[i] }); i++; }
  }
  return out;
}

function showDiff(before, after) {
  const pre = $('diff');
  pre.textContent = '';
  for (const { kind, line } of lineDiff(JSON.stringify(before, null, 2), JSON.stringify(after, null, 2))) {
    const span = document.createElement('span');
    if (kind !== ' ') span.className = kind === '+' ? 'add' : 'del';
    span.textContent = `${kind} ${line}\n`;
    pre.appendChild(span);
  }
}

// JSON text with the keys of every object sorted, to compare objects whatever their key order.
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(',')}}`;
  return JSON.stringify(value);
}

function showExpected(evaluation) {
  const box = $('expected');
  const expected = current.expected;
  box.className = 'expected';
  if (!expected) { box.textContent = ''; return; }
  let text = `Suite expects: ${expected.verdict}` + (expected.message ? `, message containing “${expected.message}”` : '');
  if (evaluation) {
    const sameVerdict = evaluation.verdict === expected.verdict;
    const sameMessage = !expected.message || (evaluation.message ?? '').includes(expected.message);
    const samePatch = !expected.patchedObject ||
      canonical(evaluation.patchedObject) === canonical(expected.patchedObject);
    box.classList.add(sameVerdict && sameMessage && samePatch ? 'match' : 'mismatch');
    text += sameVerdict && sameMessage && samePatch ? ' (matches)' : ' (differs)';
  }
  box.textContent = text;
}

function show(evaluation, ms) {
  const verdict = $('verdict');
  verdict.textContent = evaluation.verdict;
  verdict.className = `verdict ${evaluation.verdict.replace(' ', '-')}`;
  $('message').textContent = evaluation.message ?? '';
  $('warnings').replaceChildren(...(evaluation.warnings || []).map((w) => Object.assign(document.createElement('li'), { textContent: w })));
  $('timing').textContent = ms === undefined ? '' : `evaluated in ${ms.toFixed(2)} ms (validate_settings and validate, each on a fresh instance)`;
  $('patch').textContent = evaluation.patch ? JSON.stringify(evaluation.patch, null, 2) : '(no patch)';
  if (evaluation.patchedObject) showDiff(evaluation.object, evaluation.patchedObject);
  else $('diff').textContent = '(not mutated)';
  $('response').textContent = evaluation.response ? JSON.stringify(JSON.parse(evaluation.response), null, 2) : '(none)';
  $('log').textContent = (evaluation.log || []).join('\n') || '(nothing logged)';
  showExpected(evaluation);
}

async function run() {
  saveState();
  if (!current.key) { show({ verdict: 'error', message: 'Pick a policy or load a module first.' }); return; }
  $('status').textContent = 'running…';
  let bytes;
  try { bytes = await moduleBytes(current.key); } catch (error) { show({ verdict: 'error', message: error.message }); return; }
  const answer = await ask({ type: 'run', key: current.key, bytes, settings: $('settings').value, request: $('request').value, options: options() });
  $('status').textContent = '';
  if (answer.error) show({ verdict: 'error', message: answer.error });
  else show(answer.evaluation, answer.ms);
  if (!$('manifest-view').open) return;
  await showManifest();
}

async function showManifest() {
  const policy = samples.policies.find((p) => p.name === current.key);
  if (!policy) { $('manifest').textContent = 'A manifest is shown for the built-in policies only.'; return; }
  const answer = await ask({ type: 'manifest', template: policy.manifestTemplate, settings: $('settings').value });
  $('manifest').textContent = answer.error ? `The settings cannot go into a manifest: ${answer.error}` : answer.manifest;
}

// The state in the URL fragment: JSON, deflated, base64url.
async function encodeState(state) {
  const stream = new Blob([JSON.stringify(state)]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

async function decodeState(text) {
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return JSON.parse(await new Response(stream).text());
}

function state() {
  return {
    policy: current.key.startsWith('file:') ? '' : current.key,
    settings: $('settings').value, request: $('request').value,
    operation: $('operation').value, subResource: $('sub-resource').value, namespace: $('namespace').value,
    oldObject: $('old-object').value, userInfo: $('user-info').value, sample: $('sample').value,
  };
}

async function saveState() {
  const encoded = await encodeState(state());
  history.replaceState(null, '', `#s=${encoded}`);
  try { localStorage.setItem(STORAGE_KEY, encoded); } catch { /* storage full or disabled */ }
}

async function restoreState() {
  const fromUrl = location.hash.startsWith('#s=') ? location.hash.slice(3) : null;
  const encoded = fromUrl || localStorage.getItem(STORAGE_KEY);
  if (!encoded) return false;
  try {
    const saved = await decodeState(encoded);
    $('settings').value = saved.settings ?? '';
    $('request').value = saved.request ?? '';
    $('operation').value = saved.operation ?? '';
    $('sub-resource').value = saved.subResource ?? '';
    $('namespace').value = saved.namespace ?? '';
    $('old-object').value = saved.oldObject ?? '';
    $('user-info').value = saved.userInfo ?? '';
    if (saved.sample && samples.cases[saved.sample]) {
      $('sample').value = saved.sample;
      current.expected = samples.cases[saved.sample].expected;
    }
    if (saved.policy) { $('policy').value = saved.policy; await selectModule(saved.policy); }
    return true;
  } catch (error) {
    $('status').textContent = `The shared state cannot be read: ${error.message}`;
    return false;
  }
}

async function chooseSample(index) {
  const sample = samples.cases[index];
  if (!sample) { current.expected = null; showExpected(); return; }
  $('policy').value = sample.policy;
  $('settings').value = sample.settings;
  $('request').value = sample.request;
  for (const id of ['operation', 'sub-resource', 'namespace', 'old-object', 'user-info']) $(id).value = '';
  current.expected = sample.expected;
  showExpected();
  if (current.key !== sample.policy) await selectModule(sample.policy);
  saveState();
}

async function loadFile(file) {
  const bytes = await file.arrayBuffer();
  const key = `file:${file.name}:${file.size}:${file.lastModified}`;
  modules.set(key, bytes);
  current.expected = null;
  showExpected();
  if (await selectModule(key)) {
    const option = Object.assign(document.createElement('option'), { value: key, textContent: `${file.name} (file)` });
    $('policy').appendChild(option);
    $('policy').value = key;
  }
}

async function main() {
  startWorker();
  samples = await (await fetch('samples.json')).json();
  for (const policy of samples.policies) $('policy').appendChild(Object.assign(document.createElement('option'), { value: policy.name, textContent: policy.name }));
  const groups = new Map();
  samples.cases.forEach((sample, index) => {
    if (!groups.has(sample.policy)) groups.set(sample.policy, Object.assign(document.createElement('optgroup'), { label: sample.policy }));
    groups.get(sample.policy).appendChild(Object.assign(document.createElement('option'), { value: String(index), textContent: `${sample.name} (${sample.expected.verdict})` }));
  });
  $('sample').append(...groups.values());

  $('policy').onchange = () => { current.expected = null; showExpected(); selectModule($('policy').value); };
  $('sample').onchange = () => chooseSample($('sample').value);
  $('run').onclick = run;
  document.addEventListener('keydown', (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === 'Enter') { event.preventDefault(); run(); }
  });
  $('share').onclick = async () => {
    await saveState();
    try { await navigator.clipboard.writeText(location.href); $('status').textContent = 'share URL copied'; }
    catch { $('status').textContent = 'share URL is in the address bar'; }
  };
  $('show-manifest').onclick = async () => { $('manifest-view').open = true; await showManifest(); $('manifest-view').scrollIntoView(); };
  $('copy-manifest').onclick = () => navigator.clipboard.writeText($('manifest').textContent);
  $('module-file').onchange = () => { if ($('module-file').files[0]) loadFile($('module-file').files[0]); };
  const zone = $('dropzone');
  zone.ondragover = (event) => { event.preventDefault(); zone.classList.add('over'); };
  zone.ondragleave = () => zone.classList.remove('over');
  zone.ondrop = (event) => { event.preventDefault(); zone.classList.remove('over'); if (event.dataTransfer.files[0]) loadFile(event.dataTransfer.files[0]); };
  for (const id of ['settings', 'request', 'old-object', 'user-info', 'sub-resource', 'namespace', 'operation'])
    $(id).addEventListener('change', saveState);
  window.addEventListener('hashchange', restoreState);

  if (!(await restoreState())) {
    const first = samples.cases.findIndex((c) => c.request);
    if (first >= 0) { $('sample').value = String(first); await chooseSample(first); }
    else if (samples.policies[0]) await selectModule(samples.policies[0].name);
  }
  document.body.dataset.ready = 'true';
}

main().catch((error) => { $('status').textContent = `The playground cannot start: ${error.message}`; });
