// What the load generator saw, in time buckets: answers by status, socket errors and timeouts,
// latencies (for p99 per bucket) and whether every 503 carried Retry-After. Times are ms since
// the timeline began; a failure is placed at the time it was answered.
import autocannon from "autocannon";

const body = JSON.stringify({ sku: "book", qty: 2 });

export class Timeline {
  /**
   * `timeoutsAtSendTime`: place a client timeout at the time its request was sent (10 s before it
   * fired) rather than when it fired, so that it is charged to the fault in force when the request
   * went out (a request taken by an instance that was then killed), not to whatever happens 10 s
   * later. Every answer is placed when it came.
   */
  constructor(bucketMs, { timeoutsAtSendTime = false } = {}) {
    this.bucketMs = bucketMs;
    this.timeoutsAtSendTime = timeoutsAtSendTime;
    this.origin = performance.now();
    this.buckets = [];
    /** Non-2xx answers by status code, over the whole run. */
    this.statuses = {};
    this.missingRetryAfter = 0;
    this.retryAfterValues = new Set();
  }

  now() {
    return performance.now() - this.origin;
  }

  bucket(atMs) {
    const index = Math.floor(atMs / this.bucketMs);
    while (this.buckets.length <= index) {
      this.buckets.push({
        t: this.buckets.length * this.bucketMs,
        ok: 0,
        rejected: 0,
        failed: 0,
        latencies: [],
      });
    }
    return this.buckets[index];
  }

  /**
   * Offers `rate` req/s (0: as fast as the connections go) for `seconds` and resolves once all
   * answers are in. autocannon paces a rate per whole second (each connection sends its quota
   * at the start of its second, then waits), so a rate is split over four instances started a
   * quarter second apart: bursts four times smaller, four times as often.
   */
  async load(url, { connections, rate, seconds, bodies, onAnswer }) {
    const parts = rate > 0 && connections >= 4 ? 4 : 1;
    const runs = [];
    for (let part = 0; part < parts; part++) {
      if (part > 0) await new Promise((resolve) => setTimeout(resolve, 1000 / parts));
      const instance = this.drive(url, {
        connections: Math.ceil(connections / parts),
        rate: Math.ceil(rate / parts),
        seconds,
        bodies,
        onAnswer,
      });
      runs.push(finished(instance));
    }
    const results = await Promise.all(runs);
    const sum = (pick) => results.reduce((total, result) => total + pick(result), 0);
    return {
      errors: sum((r) => r.errors),
      timeouts: sum((r) => r.timeouts),
      p50: Math.max(...results.map((r) => r.latency.p50)),
      p99: Math.max(...results.map((r) => r.latency.p99)),
    };
  }

  /**
   * Runs one autocannon instance against `url` (POST /orders), recording into this timeline. Each
   * connection posts `bodies` (JSON strings) in turn; `onAnswer(status, responseBody, index)`
   * sees every answer with the index of the body it answers.
   */
  drive(url, { connections, rate, seconds, bodies = [body], onAnswer }) {
    const options = {
      url,
      connections,
      duration: seconds,
      timeout: 10,
      requests: bodies.map((requestBody, index) => ({
        method: "POST",
        headers: { "content-type": "application/json" },
        body: requestBody,
        onResponse: (status, responseBody, _context, headers) => {
          onAnswer?.(status, responseBody, index);
          if (status !== 503) return;
          const retryAfter = Object.entries(headers).find(([name]) => name.toLowerCase() === "retry-after");
          if (retryAfter === undefined) this.missingRetryAfter++;
          else this.retryAfterValues.add(String(retryAfter[1]));
        },
      })),
    };
    if (rate > 0) options.overallRate = rate;
    const instance = autocannon(options);
    instance.on("response", (_client, status, _bytes, latencyMs) => {
      const bucket = this.bucket(this.now());
      if (status >= 200 && status < 300) {
        bucket.ok++;
        bucket.latencies.push(latencyMs);
      } else {
        this.statuses[status] = (this.statuses[status] ?? 0) + 1;
        if (status === 503) bucket.rejected++;
        else bucket.failed++;
      }
    });
    instance.on("reqError", (error) => {
      const timedOut = this.timeoutsAtSendTime && error?.message === "request timed out";
      this.bucket(Math.max(0, this.now() - (timedOut ? options.timeout * 1000 : 0))).failed++;
    });
    return instance;
  }

  /**
   * Totals over the buckets that start in [fromMs, toMs): 2xx, 503 and failed answers, the p99
   * and max of the 2xx (ms), and the seconds those buckets span (to turn counts into rates).
   */
  totals(fromMs, toMs) {
    const inside = this.buckets.filter((b) => b.t >= fromMs && b.t < toMs);
    return {
      seconds: (inside.length * this.bucketMs) / 1000,
      ok: inside.reduce((sum, b) => sum + b.ok, 0),
      rejected: inside.reduce((sum, b) => sum + b.rejected, 0),
      failed: inside.reduce((sum, b) => sum + b.failed, 0),
      p99: percentile(
        inside.flatMap((b) => b.latencies),
        0.99,
      ),
      max: percentile(
        inside.flatMap((b) => b.latencies),
        1,
      ),
    };
  }

  /** The 2xx latencies (ms) of the buckets that start in [fromMs, toMs), for a histogram. */
  latencies(fromMs, toMs) {
    return this.buckets.filter((b) => b.t >= fromMs && b.t < toMs).flatMap((b) => b.latencies);
  }

  /** Per bucket: t (s), req/s answered 2xx, 503s per s, failures per s, p99 of the 2xx (ms). */
  series() {
    const perSecond = 1000 / this.bucketMs;
    return this.buckets.map((b) => ({
      t: b.t / 1000,
      ok: b.ok * perSecond,
      rejected: b.rejected * perSecond,
      failed: b.failed * perSecond,
      p99: percentile(b.latencies, 0.99),
    }));
  }
}

/** The p-quantile of `values` (nearest rank), or undefined when there are none. */
export function percentile(values, p) {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

/** Resolves when an autocannon instance has finished. */
export function finished(instance) {
  return new Promise((resolve, reject) => {
    instance.on("done", resolve);
    instance.on("error", reject);
  });
}
