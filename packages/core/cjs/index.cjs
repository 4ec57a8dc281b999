'use strict';
// The CommonJS entry: require('@piton/core') gives the ES module itself (Node >= 20.19 can
// require() ES modules), so CommonJS and ESM callers share one copy of every class and instanceof
// holds across them. On an older Node, say what to do instead of ERR_REQUIRE_ESM.
try {
  module.exports = require('../dist/index.js');
} catch (error) {
  if (error && error.code === 'ERR_REQUIRE_ESM') {
    throw new Error(
      '@piton/core is ES modules: require() of it needs Node.js >= 20.19 (this is ' + process.version + '); ' +
        "upgrade Node, or load it with import('@piton/core')",
      { cause: error },
    );
  }
  throw error;
}
