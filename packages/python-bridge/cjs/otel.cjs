'use strict';
// The CommonJS entry: require('@piton/python-bridge') gives the ES module itself (Node >= 20.19 can
// require() ES modules), so CommonJS and ESM callers share one copy of every class and instanceof
// holds across them. On an older Node, say what to do instead of ERR_REQUIRE_ESM.
try {
  module.exports = require('../dist/otel.js');
} catch (error) {
  if (error && error.code === 'ERR_REQUIRE_ESM') {
    throw new Error(
      '@piton/python-bridge/otel is ES modules: require() of @piton/python-bridge/otel needs Node.js >= 20.19 (this is ' + process.version + '); ' +
        "upgrade Node, or load it with import('@piton/python-bridge/otel')",
      { cause: error },
    );
  }
  throw error;
}
