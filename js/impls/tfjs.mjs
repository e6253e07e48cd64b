// The seed API composed from TensorFlow.js primitives (@tensorflow/tfjs 4.22 on its CPU
// backend, tfjs-backend-cpu, in Node.js): what is validated is tfjs' own numerics (exp, log, broadcasting,
// sum and mean) and its autodiff (tf.grads), not the composition, which is PyTorch's formula:
//
//   log_input:  exp(x) - t*x            rate: x - t*log(x + eps)
//   full:       + where(t <= 1, 0, t*log(t) - t + 0.5*log(2*pi*t))   (PyTorch's masked_fill: a NaN t is
//               not masked; the mask is computed outside the differentiated function, tfjs has
//               no gradient for a comparison)
//   Gaussian:   0.5*(log(v) + (x - y)^2 / v) [+ 0.5*log(2*pi)], v = clamp(var, eps) whose gradient
//               passes straight through (PyTorch clamps under no_grad), as a tf.customGrad
//
// tfjs has float32 only (its 'float32' dtype; no float64): other dtypes are refused.
import * as tf from '@tensorflow/tfjs';

import { varShape } from './plain.mjs'; // the var-shape rule, the same as the plain implementation's

await tf.setBackend('cpu');

export const name = `TensorFlow.js ${tf.version_core} (cpu backend)`;
export const dtypes = ['float32'];

export function tensor(values, shape, dtype) {
  if (dtype !== 'float32') throw new TypeError(`tfjs has no ${dtype}`);
  return tf.tensor(values, shape, 'float32');
}

export function toArray(t) {
  return { values: Array.from(t.dataSync()), shape: [...t.shape], dtype: t.dtype };
}

function reduce(loss, reduction) {
  if (reduction === 'mean') return tf.mean(loss);
  if (reduction === 'sum') return tf.sum(loss);
  return loss;
}

function checkReduction(reduction) {
  if (reduction !== 'none' && reduction !== 'mean' && reduction !== 'sum') {
    throw new Error(`${reduction} is not a valid value for reduction`);
  }
}

function poisson(input, target, { log_input = true, full = false, eps = 1e-8, reduction = 'mean' } = {},
  masked = tf.lessEqual(target, tf.scalar(1))) {
  checkReduction(reduction);
  let loss = log_input
    ? tf.sub(tf.exp(input), tf.mul(target, input))
    : tf.sub(input, tf.mul(target, tf.log(tf.add(input, tf.scalar(eps)))));
  if (full) {
    const stirling = tf.add(tf.sub(tf.mul(target, tf.log(target)), target),
      tf.mul(tf.scalar(0.5), tf.log(tf.mul(tf.scalar(2 * Math.PI), target))));
    loss = tf.add(loss, tf.where(masked, tf.zerosLike(stirling), stirling));
  }
  return reduce(loss, reduction);
}

const clampPassThrough = (eps) => tf.customGrad((v, save) => ({
  value: tf.maximum(v, tf.scalar(eps)),
  gradFunc: (dy) => dy,
}));

function gaussian(input, target, variance, { full = false, eps = 1e-6, reduction = 'mean' } = {}) {
  if (tf.any(tf.less(variance, tf.scalar(0))).dataSync()[0]) throw new Error('var has negative entry/entries');
  const v0 = tf.reshape(variance, varShape(input.shape, variance.shape));
  checkReduction(reduction);
  const v = clampPassThrough(eps)(v0);
  const d = tf.sub(input, target);
  let loss = tf.mul(tf.scalar(0.5), tf.add(tf.log(v), tf.div(tf.mul(d, d), v)));
  if (full) loss = tf.add(loss, tf.scalar(0.5 * Math.log(2 * Math.PI)));
  return reduce(loss, reduction);
}

export function poisson_nll_loss(input, target, options = {}) {
  return tf.tidy(() => poisson(input, target, options));
}

export function gaussian_nll_loss(input, target, variance, options = {}) {
  return tf.tidy(() => gaussian(input, target, variance, options));
}

// gradients by tfjs' autodiff (tf.grads), pulled back with `upstream` (default ones)
export function grad(loss, operands, options, wrt, upstream = undefined) {
  const names = loss === 'poisson' ? ['input', 'target'] : ['input', 'target', 'var'];
  return tf.tidy(() => {
    const mask = tf.lessEqual(operands.target, tf.scalar(1));
    const f = (...xs) => {
      const o = Object.fromEntries(names.map((n, i) => [n, xs[i]]));
      return loss === 'poisson' ? poisson(o.input, o.target, options, mask) : gaussian(o.input, o.target, o.var, options);
    };
    const y = f(...names.map((n) => operands[n]));
    const dy = upstream || tf.onesLike(y);
    const gs = tf.grads(f)(names.map((n) => operands[n]), dy);
    return Object.fromEntries(names.map((n, i) => [n, gs[i]]).filter(([n]) => wrt.includes(n)));
  });
}
