/** Public API of the worker's telemetry (HTTP /progress and Prometheus /metrics). */
export { createTelemetryServer, type TelemetryServer, type TelemetryServerOptions } from './telemetry-server.js';
export { createTrainingMetrics, METRIC_NAMES, type TrainingMetrics } from './training-metrics.js';
export { createProgressStore, toProgressReport, type ProgressStore } from './progress-store.js';
