#!/usr/bin/env node
// The suite's subprocess backend for JavaScript (adapters/node_backend.py): one long-lived Node.js
// process that loads an implementation module and answers calls as JSON lines.
//
//   node js/server.mjs MODULE [SUBJECTS]
//
// MODULE exports the seed API (see js/impls/plain.mjs): tensor(values, shape, dtype), toArray(t),
// the functions of the subjects it implements (poisson_nll_loss(input, target, options),
// gaussian_nll_loss(input, target, var, options), normal_log_prob(loc, scale, value),
// poisson_log_pmf(rate, value)), and optionally grad(loss, operands, options, wrt, upstream), name
// and dtypes. SUBJECTS (JSON, from the suite's registry): {subject: [function name, takes an options
// object]}; without it, the two losses.
//
// Out, first line: {"ready": true, "name", "dtypes", "grad", "losses", "node"} or {"ready": false, "error"}.
// In, one line per call: {"id", "loss", "operands": {name: ARRAY}, "options": {...}, "wrt": [...],
//   "upstream": ARRAY | null}, ARRAY = {"dtype", "shape", "values"}.
// Out, one line per call: {"id", "output": ARRAY | null, "grads": {name: ARRAY},
//   "error": {"name", "message", "where"} | null, "after": {name: ARRAY}} ("after": the operands'
//   values once the call returned, for the mutation check).
// Numbers: JSON numbers, or "nan", "inf", "-inf", "-0" (JSON has no NaN or infinities, and
// JSON.stringify writes -0 as 0). Nothing the module does may print to stdout: console.log is sent
// to stderr.
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const out = process.stdout;
console.log = (...a) => process.stderr.write(a.join(' ') + '\n');
const send = (obj) => out.write(JSON.stringify(obj) + '\n');

const enc = (v) => (Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : Object.is(v, -0) ? '-0' : v);
const dec = (v) => (v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === '-0' ? -0 : v);

let impl;
try {
  impl = await import(pathToFileURL(resolve(process.argv[2] || '')).href);
} catch (err) {
  send({ ready: false, error: `cannot load ${process.argv[2]}: ${err && err.name}: ${err && err.message}` });
  process.exit(1);
}
let subjects = { poisson: ['poisson_nll_loss', true], gaussian: ['gaussian_nll_loss', true] };
try {
  if (process.argv[3]) subjects = JSON.parse(process.argv[3]);
} catch (err) {
  send({ ready: false, error: `the subjects argument is not JSON: ${err && err.message}` });
  process.exit(1);
}
const losses = Object.keys(subjects).filter((k) => typeof impl[subjects[k][0]] === 'function');
send({ ready: true, name: impl.name || process.argv[2], dtypes: impl.dtypes || ['float32', 'float64'],
       grad: typeof impl.grad === 'function', losses, node: process.version });

function toJson(t) {
  const a = impl.toArray(t);
  return { dtype: a.dtype, shape: a.shape, values: Array.from(a.values, enc) };
}

function errorOf(err, where) {
  if (err instanceof Error) return { name: err.name, message: String(err.message), where };
  return { name: typeof err, message: String(err), where };
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (!line.trim()) continue;
  let req;
  try { req = JSON.parse(line); } catch (err) { send({ id: null, error: errorOf(err, 'protocol') }); continue; }
  const res = { id: req.id, output: null, grads: {}, error: null, after: {} };
  let ops = {};
  let stage = 'construction';
  try {
    ops = Object.fromEntries(Object.entries(req.operands).map(([k, a]) => [k, impl.tensor(a.values.map(dec), a.shape, a.dtype)]));
    stage = 'call';
    const positional = Object.keys(req.operands).map((k) => ops[k]); // in the loss's operand order
    const [fname, takesOptions] = subjects[req.loss];
    const y = takesOptions ? impl[fname](...positional, { ...req.options }) : impl[fname](...positional);
    res.output = toJson(y);
    if (req.wrt && req.wrt.length) {
      stage = 'backward';
      const up = req.upstream ? impl.tensor(req.upstream.values.map(dec), req.upstream.shape, req.upstream.dtype) : undefined;
      const g = impl.grad(req.loss, ops, { ...req.options }, req.wrt, up);
      for (const w of req.wrt) if (g && g[w] !== undefined && g[w] !== null) res.grads[w] = toJson(g[w]);
    }
  } catch (err) {
    res.error = errorOf(err, stage);
  }
  try {
    for (const [k, t] of Object.entries(ops)) res.after[k] = toJson(t);
  } catch (err) { /* an operand that cannot be read back is not checked */ }
  send(res);
}
