/**
 * The bridge's internals that benchmarks time directly, from its build: one place for imports
 * that reach past the package's public entry points.
 */
export { activeTraceHeaders } from '../../packages/python-bridge/dist/ops/trace-propagation.js';
