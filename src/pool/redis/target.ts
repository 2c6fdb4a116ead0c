// Where the Redis server is: a --redis URL read into connection parts, and a description of it
// that never holds the password (logs, status, errors and the keeper's arguments use only that).

export interface RedisTarget {
  /** host:port, or the unix socket's path. */
  host: string;
  port?: number;
  path?: string;
  tls: boolean;
  database: number;
  username?: string;
  password?: string;
  /** The URL without its password, for people to read. */
  shown: string;
}

export const REDIS_URL_FORM = 'redis://[user[:pass]@]host[:port][/db], rediss:// for TLS, or unix:///path/to/redis.sock[?db=N]';

/** Read a --redis URL; a string is the problem when it is not one. */
export function parseRedisUrl(text: string, password?: string): RedisTarget | string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return 'not a URL';
  }
  const user = url.username ? decoded(url.username) : undefined;
  const secret = url.password ? decoded(url.password) : password || undefined;
  if (user === null) return 'a malformed %-escape in the user name';
  if (secret === null) return 'a malformed %-escape in the password';
  if (url.protocol === 'unix:') {
    const path = decoded(url.pathname);
    if (path === null) return 'a malformed %-escape in the path';
    if (!path.startsWith('/') || url.host) return 'a unix socket needs an absolute path (unix:///path/to/redis.sock)';
    const db = url.searchParams.get('db') ?? '0';
    if (!/^\d{1,4}$/.test(db)) return `database ${JSON.stringify(db)} is not a number`;
    return { host: path, path, tls: false, database: Number(db), username: user, password: secret, shown: `unix://${path}${db === '0' ? '' : `?db=${db}`}` };
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return `scheme ${JSON.stringify(url.protocol.replace(/:$/, ''))} is not redis, rediss or unix`;
  if (!url.hostname) return 'no host';
  const port = url.port ? Number(url.port) : 6379;
  const db = url.pathname.replace(/^\//, '') || '0';
  if (!/^\d{1,4}$/.test(db)) return `database ${JSON.stringify(db)} is not a number`;
  if (url.search || url.hash) return 'unexpected query or fragment';
  const hostname = url.hostname;
  return {
    host: `${hostname}:${port}`,
    port,
    tls: url.protocol === 'rediss:',
    database: Number(db),
    username: user,
    password: secret,
    shown: `${url.protocol}//${user ? `${user}@` : ''}${hostname}:${port}${db === '0' ? '' : `/${db}`}`,
  };
}

/** A %-encoded part of the URL as text; null when an escape is malformed. */
function decoded(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

/** The hostname to dial (URL brackets around IPv6 addresses removed). */
export const dialHost = (t: RedisTarget): string => t.host.slice(0, t.host.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1');

/**
 * Take the password out of this process's environment once it is read: every process warden
 * starts (checks, jobs, hooks, the keeper) inherits the environment, and a job that prints it
 * would put the password into the log. The URL stays, without its password.
 */
export function dropSecrets(env: NodeJS.ProcessEnv): void {
  delete env.WARDEN_REDIS_PASSWORD;
  const url = env.WARDEN_REDIS_URL;
  if (url === undefined) return;
  const own = parseRedisUrl(url);
  if (typeof own === 'string') delete env.WARDEN_REDIS_URL;
  else if (own.password !== undefined) env.WARDEN_REDIS_URL = own.shown;
}
