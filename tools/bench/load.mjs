// A small closed-loop HTTP load generator: `concurrency` workers, each sending its next request as
// soon as the previous one answered, over keep-alive connections (node:http; cheaper per request
// than fetch, which matters because it shares the 2 cores with the server under test).
import http from 'node:http';

/**
 * Sends `count` POST requests to `url` with bodies from `makeBody(i)`, at most `concurrency`
 * at a time. `check(status, json)` returns null when a response is right, else a description.
 * Returns throughput, latency percentiles and every failure (up to a cap, with a total count).
 */
export async function drive({ url, count, concurrency, headers = {}, makeBody, check, timeoutMs = 30_000 }) {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const latencies = new Float64Array(count);
  const failures = [];
  let failureCount = 0;
  let next = 0;

  const one = (i) =>
    new Promise((resolve) => {
      const payload = Buffer.from(JSON.stringify(makeBody(i)));
      const started = process.hrtime.bigint();
      const request = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json', 'content-length': payload.length },
          timeout: timeoutMs,
        },
        (response) => {
          const chunks = [];
          response.on('data', (chunk) => chunks.push(chunk));
          response.on('end', () => {
            latencies[i] = Number(process.hrtime.bigint() - started) / 1e6;
            const text = Buffer.concat(chunks).toString('utf8');
            let json = null;
            try {
              json = JSON.parse(text);
            } catch {
              // reported below through check()
            }
            const problem = check(response.statusCode, json, text);
            if (problem) {
              fail(i, problem);
            }
            resolve();
          });
          response.on('error', (error) => {
            latencies[i] = Number(process.hrtime.bigint() - started) / 1e6;
            fail(i, `response error: ${error.message}`);
            resolve();
          });
        },
      );
      request.on('timeout', () => request.destroy(new Error(`timed out after ${timeoutMs} ms`)));
      request.on('error', (error) => {
        latencies[i] = Number(process.hrtime.bigint() - started) / 1e6;
        fail(i, `request error: ${error.message}`);
        resolve();
      });
      request.end(payload);
    });

  function fail(i, problem) {
    failureCount += 1;
    if (failures.length < 20) {
      failures.push(`#${i}: ${problem}`);
    }
  }

  const worker = async () => {
    while (next < count) {
      const i = next++;
      await one(i);
    }
  };

  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  agent.destroy();

  const sorted = Float64Array.from(latencies).sort();
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  return {
    count,
    elapsedMs,
    perSecond: (count / elapsedMs) * 1000,
    p50: pct(50),
    p99: pct(99),
    failureCount,
    failures,
  };
}
