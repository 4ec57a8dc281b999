/**
 * The bridge's internals that benchmarks time directly, from its build: one place for imports
 * that reach past the package's public entry points.
 */
export { activeTraceHeaders } from '../../packages/python-bridge/dist/ops/trace-propagation.js';
// The one /proc module: the bridge's own (bench/lib/procfs.ts adds what only measurements need).
export { processStartTime, statFields, stillRuns } from '../../packages/python-bridge/dist/launch/proc.js';
export { encodeCallOptions } from '../../packages/python-bridge/dist/wire/call-options.js';
export { createCodec } from '../../packages/python-bridge/dist/wire/codec.js';
export { encodeCallBody, withOptions } from '../../packages/python-bridge/dist/wire/encoded-call.js';
