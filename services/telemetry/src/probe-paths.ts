// The liveness and readiness paths. The preload leaves their requests untraced (instrumentations.ts)
// and a service's access log writes them at debug level: both read this one set.

export const PROBE_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);
