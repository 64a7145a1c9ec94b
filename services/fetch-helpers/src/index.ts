// @nos/fetch-helpers (node-observability-stack's fetch helpers): what every fetch() client of the
// project shares, with no dependency, so the traffic generator needs nothing else.

export { causeChain, firstErrorCode, innermostMessage } from './errors.ts';
export { baseUrl, parseHttpUrl } from './http-url.ts';
