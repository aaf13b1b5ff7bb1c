// Runs evaluations through the playground's host under Node's WebAssembly engine, for the
// equivalence test (harness/tests/playground.rs).
// Usage: node node-runner.js <wasm-bindgen --target nodejs output dir>  < jobs.json
// jobs.json: [{"module": path, "settings": text, "request": text, "options": text}, ...]
// Prints one JSON array: each job's Evaluation, or {"verdict": "error", "message"} when the
// module cannot be compiled.
'use strict';
const fs = require('fs');
const path = require('path');
const { Playground } = require(path.resolve(process.argv[2], 'kepguard_playground.js'));

const jobs = JSON.parse(fs.readFileSync(0, 'utf8'));
const modules = new Map();
const results = jobs.map((job) => {
  try {
    if (!modules.has(job.module)) {
      modules.set(job.module, new Playground(fs.readFileSync(job.module)));
    }
    return JSON.parse(modules.get(job.module).run(job.settings, job.request, job.options || ''));
  } catch (error) {
    return { verdict: 'error', message: String(error && error.message ? error.message : error) };
  }
});
process.stdout.write(JSON.stringify(results));
