// Waiting for a condition in tests, always bounded in time.
'use strict';

/**
 * Calls fn (which may be async) every 20 ms until it returns a truthy value, and resolves
 * with that value; rejects after timeoutMs.
 */
async function until(fn, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${fn}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

module.exports = { until };
