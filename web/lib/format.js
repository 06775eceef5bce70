// Human-readable sizes, rates and durations.

const UNITS = ['bytes', 'KB', 'MB', 'GB', 'TB'];

/**
 * 1536 -> "1.5 KB" (decimal units, as file managers show them).
 * @param {number} n
 */
export function formatBytes(n) {
  if (n < 1000) return `${n} ${n === 1 ? 'byte' : 'bytes'}`;
  let i = 0;
  let v = n;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${UNITS[i]}`;
}

/**
 * Seconds -> "about 2 min 5 s" style, coarse on purpose.
 * @param {number} seconds
 */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return '';
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * A timestamp from the key server ("2025-01-02T03:04:05" or RFC 3339) in the user's locale.
 * @param {string | null | undefined} value
 */
export function formatTime(value) {
  if (!value) return '';
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString();
}
