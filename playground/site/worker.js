// Runs the guest off the page's thread: the page terminates this worker when an evaluation
// misses its deadline, as the harness stops a guest at its epoch deadline.
import init, { Playground, manifest } from './pkg/kepguard_playground.js';

const ready = init();
const compiled = new Map(); // key -> Playground

function compile(key, bytes) {
  if (!compiled.has(key)) compiled.set(key, new Playground(new Uint8Array(bytes)));
  return compiled.get(key);
}

self.onmessage = async ({ data }) => {
  await ready;
  try {
    switch (data.type) {
      case 'load': {
        const started = performance.now();
        const playground = compile(data.key, data.bytes);
        self.postMessage({ id: data.id, metadata: playground.metadata() ?? null, ms: performance.now() - started });
        break;
      }
      case 'run': {
        const playground = compile(data.key, data.bytes);
        const started = performance.now();
        const evaluation = JSON.parse(playground.run(data.settings, data.request, data.options));
        self.postMessage({ id: data.id, evaluation, ms: performance.now() - started });
        break;
      }
      case 'manifest':
        self.postMessage({ id: data.id, manifest: manifest(data.template, data.settings) });
        break;
    }
  } catch (error) {
    self.postMessage({ id: data.id, error: String(error?.message ?? error) });
  }
};
