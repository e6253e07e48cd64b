// A conforming implementation of the seed API in plain JavaScript (no dependencies), written from
// reference/SPEC.md: poisson_nll_loss(input, target, {log_input, full, eps, reduction}) and
// gaussian_nll_loss(input, target, var, {full, eps, reduction}), with analytic gradients.
//
// A tensor is {data: Float32Array | Float64Array, shape: number[], dtype: 'float32' | 'float64'}.
// float32 is evaluated step by step in float32 (every operation rounded with Math.fround);
// reductions sum pairwise in float64 and round once (a wider accumulator, as PyTorch's CPU sum).
//
// The runner's protocol (js/run_vectors.mjs): tensor(values, shape, dtype), toArray(t),
// poisson_nll_loss, gaussian_nll_loss, and grad(loss, operands, options, wrt).

export const name = 'plain JavaScript (seed API)';

const ARRAY = { float32: Float32Array, float64: Float64Array };
const round = (dtype) => (dtype === 'float32' ? Math.fround : (v) => v);
const HALF_LOG_2PI = 0.9189385332046727;

export function tensor(values, shape, dtype) {
  if (!ARRAY[dtype]) throw new TypeError(`unsupported dtype ${dtype}`);
  return { data: ARRAY[dtype].from(values), shape: [...shape], dtype };
}

export function toArray(t) {
  return { values: Array.from(t.data), shape: [...t.shape], dtype: t.dtype };
}

const numel = (shape) => shape.reduce((a, b) => a * b, 1);

// DTYPE-PROMOTE among floats: the widest operand's format, where a 0-d operand beside dimensioned
// ones does not count (DTYPE-ZERO-DIM); every operand is converted to it
function resultDtype(...ts) {
  const counted = ts.some((t) => t.shape.length > 0) ? ts.filter((t) => t.shape.length > 0) : ts;
  return counted.some((t) => t.dtype === 'float64') ? 'float64' : 'float32';
}

function broadcastShapes(...shapes) {
  const nd = Math.max(0, ...shapes.map((s) => s.length));
  const out = [];
  for (let i = 0; i < nd; i++) {
    const sizes = new Set(shapes.filter((s) => s.length - nd + i >= 0).map((s) => s[s.length - nd + i]));
    sizes.delete(1);
    if (sizes.size > 1) throw new Error(`The size of tensors must match: shapes ${JSON.stringify(shapes)} do not broadcast`);
    out.push(sizes.size ? [...sizes][0] : 1);
  }
  return out;
}

// the flat index into a tensor of `shape` for each element of the broadcast shape `out`
function broadcastIndex(shape, out) {
  const n = numel(out);
  const idx = new Int32Array(n);
  const nd = out.length;
  const strides = new Array(nd).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const j = nd - shape.length + i;
    strides[j] = shape[i] === 1 ? 0 : s;
    s *= shape[i];
  }
  for (let k = 0; k < n; k++) {
    let rem = k;
    let at = 0;
    for (let j = nd - 1; j >= 0; j--) {
      const c = rem % out[j];
      rem = (rem - c) / out[j];
      at += c * strides[j];
    }
    idx[k] = at;
  }
  return idx;
}

function pairwiseSum(values, lo = 0, hi = values.length) {
  if (hi - lo <= 8) {
    let s = 0;
    for (let i = lo; i < hi; i++) s += values[i];
    return s;
  }
  const mid = (lo + hi) >> 1;
  return pairwiseSum(values, lo, mid) + pairwiseSum(values, mid, hi);
}

function checkReduction(reduction) {
  if (reduction !== 'none' && reduction !== 'mean' && reduction !== 'sum') {
    throw new Error(`${reduction} is not a valid value for reduction`);
  }
}

function reduce(loss, shape, reduction, dtype) {
  const r = round(dtype);
  if (reduction === 'none') return { data: ARRAY[dtype].from(loss), shape, dtype };
  const total = r(pairwiseSum(loss));
  const v = reduction === 'sum' ? total : r(total / loss.length);
  return { data: ARRAY[dtype].of(v), shape: [], dtype };
}

// sum each element's partial back to the operand's shape (over broadcast dimensions), in its dtype (GRAD-DTYPE)
function toOperand(partials, index, shape, dtype) {
  const buckets = Array.from({ length: numel(shape) }, () => []);
  for (let k = 0; k < partials.length; k++) buckets[index[k]].push(partials[k]);
  const r = round(dtype);
  return { data: ARRAY[dtype].from(buckets.map((b) => r(b.length === 1 ? b[0] : pairwiseSum(b)))), shape, dtype };
}

// the upstream factor of each element: the upstream gradient (a tensor of the output's shape, or
// ones), divided by N first under 'mean' (as PyTorch's mean backward does)
function upstream(n, reduction, dtype, up) {
  const r = round(dtype);
  const g = new Array(n);
  for (let k = 0; k < n; k++) {
    const u = up ? (reduction === 'none' ? up.data[k] : up.data[0]) : 1;
    g[k] = reduction === 'mean' ? r(u / n) : u;
  }
  return g;
}

// --- Poisson ----------------------------------------------------------------------------------------
export function poissonParts(input, target, options = {}, stirlingMasked = (t) => t <= 1, up = undefined) {
  const { log_input = true, full = false, eps = 1e-8, reduction = 'mean' } = options;
  checkReduction(reduction);
  const dtype = resultDtype(input, target);
  const r = round(dtype);
  const shape = broadcastShapes(input.shape, target.shape);
  const ix = broadcastIndex(input.shape, shape);
  const it = broadcastIndex(target.shape, shape);
  const n = numel(shape);
  const gs = upstream(n, reduction, dtype, up);
  const loss = new Array(n);
  const dx = new Array(n);
  const dt = new Array(n);
  const e = r(eps);
  for (let k = 0; k < n; k++) {
    const x = input.data[ix[k]];
    const t = target.data[it[k]];
    const g = gs[k];
    if (log_input) {
      const ex = r(Math.exp(x));
      loss[k] = r(ex - r(t * x));
      dx[k] = r(r(g * ex) - r(g * t));
      dt[k] = -r(g * x);
    } else {
      const xe = r(x + e);
      const lg = r(Math.log(xe));
      loss[k] = r(x - r(t * lg));
      dx[k] = r(g - r(r(g * t) / xe));
      dt[k] = -r(g * lg);
    }
    if (full && !stirlingMasked(t)) {
      const lt = r(Math.log(t));
      loss[k] = r(loss[k] + r(r(r(t * lt) - t) + r(0.5 * r(Math.log(r(r(2 * Math.PI) * t))))));
      dt[k] = r(dt[k] + r(r(g * lt) + r(r(0.5 * g) / t)));
    }
  }
  return {
    output: reduce(loss, shape, reduction, dtype),
    grads: { input: toOperand(dx, ix, input.shape, input.dtype), target: toOperand(dt, it, target.shape, target.dtype) },
  };
}

export function poisson_nll_loss(input, target, options = {}) {
  return poissonParts(input, target, options).output;
}

// --- Gaussian ---------------------------------------------------------------------------------------
// GNLL-VAR-SHAPE: the shape var is broadcast with (also used by tfjs.mjs)
export function varShape(S, V) {
  const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
  if (same(V, S)) return V;
  if (S.length >= 1 && same(V, S.slice(0, -1))) return [...V, 1];
  if (V.length === S.length) {
    const diff = S.map((s, i) => i).filter((i) => S[i] !== V[i]);
    if (diff.length === 1 && V[diff[0]] === 1) return V;
  }
  throw new Error('var is of incorrect size');
}

export function gaussianParts(input, target, variance, options = {}, up = undefined) {
  const { full = false, eps = 1e-6, reduction = 'mean' } = options;
  if (variance.data.some((v) => v < 0)) throw new Error('var has negative entry/entries');
  const vshape = varShape(input.shape, variance.shape);
  checkReduction(reduction);
  // var takes part with its shape after the var-shape rule (a 0-d var for a 1-d input is (1,))
  const dtype = resultDtype(input, target, { dtype: variance.dtype, shape: vshape });
  const r = round(dtype);
  const shape = broadcastShapes(input.shape, target.shape, vshape);
  const ix = broadcastIndex(input.shape, shape);
  const iy = broadcastIndex(target.shape, shape);
  const iv = broadcastIndex(vshape, shape);
  const n = numel(shape);
  const gs = upstream(n, reduction, dtype, up);
  const loss = new Array(n);
  const dx = new Array(n);
  const dv = new Array(n);
  const e = r(eps);
  for (let k = 0; k < n; k++) {
    const g = gs[k];
    const var_ = variance.data[iv[k]];
    const v = var_ !== var_ ? var_ : Math.max(var_, e);
    const d = r(input.data[ix[k]] - target.data[iy[k]]);
    const dd = r(d * d);
    loss[k] = r(0.5 * r(r(Math.log(v)) + r(dd / v)));
    if (full) loss[k] = r(loss[k] + r(HALF_LOG_2PI));
    const gh = r(0.5 * g);
    dx[k] = r(r(gh / v) * r(2 * d));
    dv[k] = r(r(gh / v) - r(gh * r(r(dd / v) / v)));
  }
  return {
    output: reduce(loss, shape, reduction, dtype),
    grads: {
      input: toOperand(dx, ix, input.shape, input.dtype),
      target: toOperand(dx.map((v) => -v), iy, target.shape, target.dtype),
      var: toOperand(dv, iv, variance.shape, variance.dtype),
    },
  };
}

export function gaussian_nll_loss(input, target, variance, options = {}) {
  return gaussianParts(input, target, variance, options).output;
}

// gradients of the loss with respect to the operands named in `wrt`, pulled back with `upstream`
// (a tensor shaped like the output; default ones)
export function grad(loss, operands, options, wrt, upstream = undefined) {
  const parts = loss === 'poisson'
    ? poissonParts(operands.input, operands.target, options, undefined, upstream)
    : gaussianParts(operands.input, operands.target, operands.var, options, upstream);
  return Object.fromEntries(wrt.map((w) => [w, parts.grads[w]]));
}
