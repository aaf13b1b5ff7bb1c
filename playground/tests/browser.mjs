// The playground in a real browser: headless Chromium over WebDriver (chromedriver), against
// the site `kepguard playground` serves. For each policy: a sample is run and its verdict and
// patch read from the page, the settings are made invalid and the policy's error appears, and
// a share URL restores the state; then bad input (not wasm, an unknown import, YAML that does
// not parse, a 10 MB request, a guest that loops forever) must give an error, not a broken
// page. Screenshots go to build/playground-screenshots/, timings to timings.json there.
// Usage: node playground/tests/browser.mjs KEPGUARD_BINARY SITE_DIR
// (PLAYGROUND_URL=http://... tests a site served elsewhere instead.)
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

const [kepguard, site] = process.argv.slice(2);
const shots = resolve('build/playground-screenshots');
mkdirSync(shots, { recursive: true });
const failures = [];
const check = (ok, what) => { console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); if (!ok) failures.push(what); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(command, args, pattern) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolvePromise, reject) => {
    let seen = '';
    const look = (chunk) => { seen += chunk; const m = seen.match(pattern); if (m) resolvePromise({ child, match: m }); };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('exit', (code) => reject(new Error(`${command} exited (${code}): ${seen}`)));
  });
}

const server = process.env.PLAYGROUND_URL ? null
  : await start(kepguard, ['playground', '--port', '0', '--dir', site], /http:\/\/127\.0\.0\.1:\d+\//);
const url = process.env.PLAYGROUND_URL ?? server.match[0];
const driverPort = 9500 + Math.floor(Math.random() * 400);
const driver = await start('chromedriver', [`--port=${driverPort}`], /started successfully|was started/);
const base = `http://127.0.0.1:${driverPort}`;

async function wd(method, path, body) {
  const response = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  const json = await response.json();
  if (json.value && json.value.error) throw new Error(`${method} ${path}: ${json.value.error}: ${json.value.message}`);
  return json.value;
}

const session = await wd('POST', '/session', { capabilities: { alwaysMatch: { browserName: 'chrome', 'goog:chromeOptions': {
  binary: '/usr/bin/chromium', args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=1400,1100'] } } } });
const sid = session.sessionId;
const S = (path) => `/session/${sid}${path}`;
const js = (script, ...args) => wd('POST', S('/execute/sync'), { script, args });
const jsAsync = (script, ...args) => wd('POST', S('/execute/async'), { script, args });
const text = (id) => js('return document.getElementById(arguments[0]).textContent', id);
async function until(condition, what, timeout = 20000) {
  const started = Date.now();
  while (Date.now() - started < timeout) { if (await condition()) return true; await sleep(100); }
  check(false, `timed out waiting for ${what}`);
  return false;
}
async function screenshot(name) {
  const png = await wd('GET', S('/screenshot'));
  writeFileSync(`${shots}/${name}.png`, Buffer.from(png, 'base64'));
}
async function open(address) {
  const started = Date.now();
  await wd('POST', S('/url'), { url: address });
  await until(() => js('return document.body.dataset.ready === "true"'), 'the page to be ready');
  return Date.now() - started;
}
// Runs and waits for a fresh verdict.
async function runPage() {
  await js('document.getElementById("verdict").textContent = "…"; document.getElementById("run").click()');
  await until(async () => (await text('verdict')) !== '…', 'a verdict', 30000);
  return text('verdict');
}
const setValue = (id, value) => js('const e = document.getElementById(arguments[0]); e.value = arguments[1]; e.dispatchEvent(new Event("change"))', id, value);

const timings = { url };
try {
  timings.timeToInteractiveMs = await open(url);
  const samples = await js('return fetch("samples.json").then(r => r.json())');
  for (const policy of samples.policies) {
    const name = policy.name;
    // A sample that shows the policy at work: a mutation if it mutates, else a rejection.
    const index = ['mutated', 'rejected', 'allowed'].map((v) => samples.cases.findIndex((c) => c.policy === name && c.expected.verdict === v)).find((i) => i >= 0);
    const sample = samples.cases[index];
    await setValue('sample', String(index));
    await until(async () => (await text('status')).includes('compiled'), `${name} to compile`);
    const verdict = await runPage();
    const expected = await js('return document.getElementById("expected").className');
    check(verdict === sample.expected.verdict && expected.includes('match') && !expected.includes('mismatch'),
      `${name}: sample "${sample.name}" gives ${verdict} (suite: ${sample.expected.verdict})`);
    const patch = await text('patch');
    check(sample.expected.verdict === 'mutated' ? patch.includes('"op"') : patch === '(no patch)', `${name}: the patch is shown`);
    const milliseconds = async () => parseFloat((await text('timing')).replace(/[^0-9.]/g, ' ').trim().split(' ')[0]);
    const first = await milliseconds();
    // The first evaluation pays V8's lazy compilation of the guest; the next ones do not.
    const again = [];
    for (let i = 0; i < 5; i++) { await runPage(); again.push(await milliseconds()); }
    timings[name] = { firstEvaluationMs: first, medianEvaluationMs: again.sort((a, b) => a - b)[2] };
    await screenshot(name);

    // The ClusterAdmissionPolicy view is what `kepguard manifest --settings` prints.
    await js('document.getElementById("manifest").textContent = "…"; document.getElementById("show-manifest").click()');
    await until(async () => (await text('manifest')) !== '…', 'the manifest');
    writeFileSync(`${shots}/settings.yaml`, sample.settings);
    const printed = execFileSync(kepguard, ['manifest', name, '--settings', `${shots}/settings.yaml`], { encoding: 'utf8' });
    check((await text('manifest')) === printed, `${name}: the manifest view is what kepguard manifest prints`);

    // The state round-trips through a share URL.
    await js('document.getElementById("share").click()');
    await sleep(300);
    const shared = await js('return location.href');
    const before = { settings: sample.settings, request: sample.request };
    await js('localStorage.clear()');
    await wd('POST', S('/url'), { url: 'about:blank' });
    await wd('POST', S('/url'), { url: shared });
    await until(() => js('return document.body.dataset.ready === "true"'), 'the shared page');
    const after = await js('return {settings: document.getElementById("settings").value, request: document.getElementById("request").value, policy: document.getElementById("policy").value}');
    check(after.settings === before.settings && after.request === before.request && after.policy === name, `${name}: a share URL restores the state`);

    // Invalid settings show the policy's own message.
    await setValue('settings', 'kepguardBogusSetting: 1\n');
    const invalid = await runPage();
    const message = await text('message');
    check(invalid === 'invalid settings' && message.length > 0, `${name}: invalid settings show "${message.slice(0, 80)}"`);
  }

  // A settings-only sample needs no request.
  const settingsOnly = samples.cases.findIndex((c) => c.expected.verdict === 'invalid settings');
  if (settingsOnly >= 0) {
    await setValue('sample', String(settingsOnly));
    await until(async () => (await text('status')).includes('compiled'), 'the module to compile');
    const verdict = await runPage();
    const expected = await js('return document.getElementById("expected").className');
    check(verdict === 'invalid settings' && !expected.includes('mismatch'), `a settings-only sample gives invalid settings (${verdict})`);
  }

  // Bad input.
  const good = samples.cases.findIndex((c) => c.request && c.expected.verdict !== 'invalid settings');
  await setValue('sample', String(good));
  await sleep(500);
  await setValue('request', 'kind: Pod\nspec: [unclosed\n');
  check((await runPage()) === 'error' && (await text('message')).includes('not valid JSON or YAML'), 'YAML that does not parse gives an error');

  const big = JSON.parse(samples.cases[good].request);
  const target = big.request ? big.request.object : big;
  target.metadata.annotations = { padding: 'x'.repeat(10 << 20) };
  await setValue('request', JSON.stringify(big));
  const bigVerdict = await runPage();
  check(['allowed', 'rejected', 'mutated', 'error'].includes(bigVerdict),
    `a 10 MB request gives a verdict, not a broken page (${bigVerdict}: ${(await text('message')).slice(0, 100)})`);

  const files = resolve('build/playground-screenshots/inputs');
  mkdirSync(files, { recursive: true });
  writeFileSync(`${files}/not-wasm.wasm`, 'this is not WebAssembly');
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  // (import "env" "foo" (func)) and nothing else.
  writeFileSync(`${files}/unknown-import.wasm`, Buffer.from([...header, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
    0x02, 0x0b, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x03, 0x66, 0x6f, 0x6f, 0x00, 0x00]));
  // __guest_call(i32, i32) -> i32 { loop { br 0 } unreachable }, and a memory.
  const exportName = (name) => [name.length, ...Buffer.from(name)];
  writeFileSync(`${files}/endless-loop.wasm`, Buffer.from([...header,
    0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f,
    0x03, 0x02, 0x01, 0x00,
    0x05, 0x03, 0x01, 0x00, 0x01,
    0x07, 0x19, 0x02, ...exportName('__guest_call'), 0x00, 0x00, ...exportName('memory'), 0x02, 0x00,
    0x0a, 0x0a, 0x01, 0x08, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x00, 0x0b]));
  const upload = async (file) => {
    await js('document.getElementById("module-info").textContent = "…"; document.getElementById("module-file").value = ""');
    const element = await wd('POST', S('/element'), { using: 'css selector', value: '#module-file' });
    await wd('POST', S(`/element/${Object.values(element)[0]}/value`), { text: `${files}/${file}` });
    await until(async () => (await text('module-info')) !== '…' || (await text('status')).includes('compiled'), `${file} to load`);
    return text('module-info');
  };
  check((await upload('not-wasm.wasm')).includes('not a valid WebAssembly module'), 'a non-wasm file is refused');
  check((await upload('unknown-import.wasm')).includes('env.foo'), 'a module with an unknown import is refused by name');
  await upload('endless-loop.wasm');
  await setValue('settings', '{}');
  const loopStarted = Date.now();
  const loop = await runPage();
  check(loop === 'error' && (await text('message')).includes('did not finish'), `a guest that loops forever is stopped (${Date.now() - loopStarted} ms)`);
  await screenshot('endless-loop');
  await setValue('sample', String(good));
  await until(async () => (await text('status')).includes('compiled'), 'the policy to compile again');
  check((await runPage()) === samples.cases[good].expected.verdict, 'the page still works after the stopped guest');
  timings.hostBundleBytes = statSync(`${site}/pkg/kepguard_playground_bg.wasm`).size;
} catch (error) {
  check(false, `the browser test broke: ${error.message}`);
} finally {
  writeFileSync(`${shots}/timings.json`, JSON.stringify(timings, null, 2));
  await wd('DELETE', S('')).catch(() => {});
  driver.child.kill();
  server?.child.kill();
}
console.log(JSON.stringify(timings));
console.log(failures.length ? `${failures.length} failed` : 'all passed');
process.exit(failures.length ? 1 : 0);
