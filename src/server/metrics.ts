import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one server, served at GET /metrics. */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'service' | 'operation' | 'outcome'>;
  readonly latency: Histogram<'service' | 'operation' | 'outcome'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'berth_' });
    this.requests = new Counter({
      name: 'berth_api_requests_total',
      help: 'API requests by service, operation and outcome (ok, or the AWS error type)',
      labelNames: ['service', 'operation', 'outcome'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'berth_api_request_duration_seconds',
      help: 'API request latency by service, operation and outcome',
      labelNames: ['service', 'operation', 'outcome'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
  }

  observe(service: string, operation: string, outcome: string, seconds: number): void {
    const labels = { service, operation, outcome };
    this.requests.inc(labels);
    this.latency.observe(labels, seconds);
  }
}
