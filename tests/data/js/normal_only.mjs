// A JavaScript module that implements only the normal log-density subject (float64, values only):
// the suite's JavaScript backend finds it by the registry's function name, calls it without an
// options object, and reports the two losses as not provided (tests/test_js_backend.py).
import { tensor, toArray } from '../../../js/impls/plain.mjs';

export { tensor, toArray };
export const name = 'normal log-density only (test module)';
export const dtypes = ['float64'];
const HALF_LOG_2PI = 0.9189385332046727;

export function normal_log_prob(loc, scale, value, ...rest) {
  if (rest.length) throw new TypeError('normal_log_prob takes no options object');
  const shape = loc.shape;
  if (JSON.stringify(scale.shape) !== JSON.stringify(shape) || JSON.stringify(value.shape) !== JSON.stringify(shape)) {
    throw new RangeError('this test module takes operands of one shape');
  }
  const out = new Float64Array(loc.data.length);
  for (let i = 0; i < out.length; i++) {
    const d = value.data[i] - loc.data[i];
    const s = scale.data[i];
    out[i] = -(d * d) / (2 * (s * s)) - Math.log(s) - HALF_LOG_2PI;
  }
  return tensor(out, shape, 'float64');
}
