// The check every URL option shares: absolute, http or https.

/** The parsed URL, or why `text` is not an absolute http(s) URL. */
export function parseHttpUrl(text: string): URL | 'not-absolute' | 'not-http' {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not-absolute';
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : 'not-http';
}

/** The URL as a base to append paths to: its href without trailing '/'. */
export function baseUrl(url: URL): string {
  return url.href.replace(/\/+$/, '');
}
