/**
 * Structured logging: `Message key=value ...` lines on stderr (stdout stays
 * free for the progress display and machine-readable output).
 */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

function fmt(v: string | number | boolean): string {
  const s = String(v);
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

/** A logger writing `level msg k=v` lines to a sink (stderr by default). */
export function createLogger(base: LogFields = {}, sink: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const write = (level: string, msg: string, fields?: LogFields): void => {
    const all = { ...base, ...fields };
    const kv = Object.entries(all)
      .filter((e): e is [string, string | number | boolean] => e[1] !== undefined)
      .map(([k, v]) => `${k}=${fmt(v)}`)
      .join(' ');
    sink(`${new Date().toISOString()} ${level} ${msg}${kv ? ' ' + kv : ''}`);
  };
  return {
    info: (m, f) => write('INFO', m, f),
    warn: (m, f) => write('WARN', m, f),
    error: (m, f) => write('ERROR', m, f),
    child: (f) => createLogger({ ...base, ...f }, sink),
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = {
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
