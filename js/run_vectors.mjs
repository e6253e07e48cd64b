#!/usr/bin/env node
// Run lossconform's golden vectors against a JavaScript implementation of the seed API.
//
//   node js/run_vectors.mjs --impl js/impls/plain.mjs --vectors DIR [--messages] [--json OUT]
//
// DIR holds one file per subject (`python -m conformance vectors --out DIR`; schema:
// docs/vectors-schema.md): poisson.json, gaussian.json, normal.json, poissonpmf.json. Each names
// its function and operand order. The implementation module exports tensor(values, shape, dtype),
// toArray(t) -> {values, shape, dtype}, the functions it implements (poisson_nll_loss(input, target,
// options), gaussian_nll_loss(input, target, var, options), normal_log_prob(loc, scale, value),
// poisson_log_pmf(rate, value): a file whose function it lacks is not applicable) and, for
// gradients, grad(loss, operands, options, wrt) -> {operand: tensor} (without it gradients are not
// applicable); `dtypes` (default float32 and float64) says which cases apply (the others are not
// applicable). Exit 0: every case conforms; 1: some case does not; 2: usage error.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

function usage(msg) {
  process.stderr.write(`run_vectors: ${msg}\nusage: node js/run_vectors.mjs --impl MODULE --vectors DIR [--messages] [--json OUT]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const opt = (k) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : undefined; };
const implPath = opt('--impl');
const dir = opt('--vectors');
const jsonOut = opt('--json');
const checkMessages = args.includes('--messages');
if (!implPath || !dir) usage('--impl and --vectors are required');

let impl;
try {
  impl = await import(pathToFileURL(resolve(implPath)).href);
} catch (err) {
  usage(`cannot load ${implPath}: ${err && err.message}`);
}

// numbers: JSON numbers, or "nan", "inf", "-inf"
const dec = (v) => (v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v);
const show = (v) => (Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? '-0' : String(v));

// the comparison of docs/vectors-schema.md
function conforms(got, q, i) {
  if (q.admitted[i].some((a) => Object.is(dec(a), got) || dec(a) === got || (Number.isNaN(got) && Number.isNaN(dec(a))))) return 'admitted';
  const hi = dec(q.hi[i]);
  if (Number.isNaN(hi)) return Number.isNaN(got) ? 'exact' : null;
  if (!Number.isFinite(hi)) return got === hi ? 'exact' : null;
  if (!Number.isFinite(got)) return got === dec(q.rounded[i]) ? 'exact' : null;
  return Math.abs((got - hi) - q.lo[i]) <= q.allowance[i] ? 'allowance' : null;
}

function compare(what, q, t, failures, id) {
  if (!t || typeof t !== 'object') { failures.push({ id, what, message: `returned ${typeof t}, not a tensor` }); return; }
  const a = impl.toArray(t);
  if (a.dtype !== q.dtype) failures.push({ id, what, message: `dtype ${a.dtype}, expected ${q.dtype}` });
  if (JSON.stringify(a.shape) !== JSON.stringify(q.shape)) {
    failures.push({ id, what, message: `shape ${JSON.stringify(a.shape)}, expected ${JSON.stringify(q.shape)}` });
    return;
  }
  for (let i = 0; i < a.values.length; i++) {
    if (!conforms(a.values[i], q, i)) {
      const err = Math.abs((a.values[i] - dec(q.hi[i])) - q.lo[i]) / q.allowance[i];
      failures.push({ id, what, index: i, expected: q.exact[i], got: show(a.values[i]), clause: q.clauses[i],
                      message: `[${q.clauses[i]}] ${what}[${i}]: got ${show(a.values[i])}, expected ${q.exact[i]} (allowance ${q.allowance[i]}, normalized error ${err.toPrecision(3)})` });
      return; // the first wrong element of a quantity is enough to show
    }
  }
}

const results = [];
let failed = 0; let passed = 0; let na = 0;
let files;
try {
  files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
} catch (err) {
  usage(`cannot read ${dir}: ${err.message}`);
}
const docs = [];
for (const f of files) {
  let doc;
  try {
    doc = JSON.parse(readFileSync(resolve(dir, f), 'utf8'));
  } catch (err) {
    usage(`cannot read ${f} in ${dir}: ${err.message}`);
  }
  if (doc.schema !== 'lossconform-vectors') continue; // another JSON file in the directory
  if (doc.version !== 1) usage(`${f}: lossconform-vectors version ${doc.version}, this runner reads version 1`);
  docs.push(doc);
}
if (!docs.length) usage(`no lossconform-vectors files in ${dir}`);
for (const doc of docs) {
  const loss = doc.loss;
  const fname = doc.function || `${loss}_nll_loss`;
  const order = doc.operands || (loss === 'poisson' ? ['input', 'target'] : ['input', 'target', 'var']);
  const takesOptions = String(doc.signature || '{').includes('{');
  const fn = impl[fname];
  for (const c of doc.cases) {
    const failures = [];
    if (typeof fn !== 'function') { results.push({ id: c.id, status: 'NA', why: `no ${fname}` }); na++; continue; }
    const dts = impl.dtypes || ['float32', 'float64'];
    const odd = Object.values(c.operands).map((o) => o.dtype).find((d) => !dts.includes(d));
    if (odd) { results.push({ id: c.id, status: 'NA', why: `the implementation has no ${odd}` }); na++; continue; }
    const ops = Object.fromEntries(Object.entries(c.operands).map(([k, o]) => [k, impl.tensor(o.values.map(dec), o.shape, o.dtype)]));
    const positional = order.map((n) => ops[n]);
    let out; let threw = null;
    try { out = takesOptions ? fn(...positional, { ...c.options }) : fn(...positional); } catch (err) { threw = err; }
    if (c.error) {
      if (!threw) failures.push({ id: c.id, what: 'error', message: `expected an error (${c.error.clause}: ${c.error.message}), none was thrown` });
      else if (checkMessages && c.error.message && !String(threw.message).includes(c.error.message)) {
        failures.push({ id: c.id, what: 'error', message: `error message ${JSON.stringify(threw.message)}, expected ${JSON.stringify(c.error.message)}` });
      }
    } else if (threw) {
      failures.push({ id: c.id, what: 'output', message: `threw ${threw && threw.name}: ${threw && threw.message}` });
    } else {
      compare('output', c.output, out, failures, c.id);
      if (typeof impl.grad === 'function') {
        const wrt = Object.keys(c.grads);
        let g = null;
        try { g = impl.grad(loss, ops, { ...c.options }, wrt); } catch (err) {
          failures.push({ id: c.id, what: 'gradients', message: `threw ${err && err.name}: ${err && err.message}` });
        }
        if (g) for (const w of wrt) compare(`grad_${w}`, c.grads[w], g[w], failures, c.id);
      }
    }
    const status = failures.length ? 'FAIL' : 'PASS';
    if (failures.length) failed++; else passed++;
    results.push({ id: c.id, status, failures });
    for (const f of failures) process.stdout.write(`FAIL ${c.id} ${f.message}\n`);
  }
}
process.stdout.write(`${impl.name || implPath}: ${passed} passed, ${failed} failed, ${na} not applicable\n`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ impl: impl.name || implPath, passed, failed, na, results }, null, 1));
process.exit(failed ? 1 : 0);
