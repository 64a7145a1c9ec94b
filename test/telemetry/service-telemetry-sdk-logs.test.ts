// The telemetry suite of this directory again, with LOG_EXPORT=sdk: the log records leave through
// instrumentation-pino and the SDK's logs pipeline in the main thread instead of pino's transport
// worker, and must arrive exactly as often, with the same trace and span ids and resource.

process.env.LOG_EXPORT = 'sdk';
await import('./service-telemetry.test.ts');
