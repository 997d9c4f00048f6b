// The calls a fake carrier has placed, handed to a test one at a time. next() resolves with the
// oldest call not yet taken, waiting for one if need be, and rejects after a time limit, so a
// server that never dials fails its test with a message instead of hanging until ctest's limit.
'use strict';

const DEFAULT_WAIT_MS = 15000;

class CallQueue {
  /** @param {string} carrier named in the timeout's message */
  constructor(carrier) {
    this.carrier = carrier;
    this.ready = [];
    this.waiters = [];
  }

  /** A call was placed. */
  push(call) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(call);
    else this.ready.push(call);
  }

  /** The next call placed and not yet taken. */
  next(timeoutMs = DEFAULT_WAIT_MS) {
    if (this.ready.length) return Promise.resolve(this.ready.shift());
    return new Promise((resolve, reject) => {
      const waiter = (call) => {
        clearTimeout(timer);
        resolve(call);
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`fake ${this.carrier}: no call placed within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
}

module.exports = { CallQueue };
