// A realistic mistake, for the runner's own test: the Stirling term of full=True is added where the
// target is >= 1 instead of > 1 (PNLL-STIRLING-MASK), so a count of exactly 1 gets
// 1*log(1) - 1 + 0.5*log(2*pi) = -0.081 added to its loss. Everything else is plain.mjs.
import { poissonParts } from './plain.mjs';

export { name, tensor, toArray, gaussian_nll_loss } from './plain.mjs';
import { gaussianParts } from './plain.mjs';

const masked = (t) => t < 1;

export function poisson_nll_loss(input, target, options = {}) {
  return poissonParts(input, target, options, masked).output;
}

export function grad(loss, operands, options, wrt, upstream = undefined) {
  const parts = loss === 'poisson'
    ? poissonParts(operands.input, operands.target, options, masked, upstream)
    : gaussianParts(operands.input, operands.target, operands.var, options, upstream);
  return Object.fromEntries(wrt.map((w) => [w, parts.grads[w]]));
}
