/**
 * Why a child stopped. OTP's vocabulary: `'normal'`, `'shutdown'` and `{ shutdown: detail }` are
 * normal exits; `'killed'` follows a brutal kill; anything else (usually the Error a callback threw)
 * is abnormal.
 */
export type ExitReason =
  | 'normal'
  | 'shutdown'
  | 'killed'
  | { readonly shutdown: unknown }
  | Error
  | string
  | number
  | boolean
  | null
  | undefined
  | { readonly [key: string]: unknown };

/** `{ shutdown: detail }`: an orderly stop that carries a detail for the reader. */
export function isShutdownTuple(reason: ExitReason): reason is { readonly shutdown: unknown } {
  return typeof reason === 'object' && reason !== null && !(reason instanceof Error) && 'shutdown' in reason;
}

/** True for the reasons OTP treats as normal: `'normal'`, `'shutdown'`, `{ shutdown: x }`. */
export function isNormalExit(reason: ExitReason): boolean {
  return reason === 'normal' || reason === 'shutdown' || isShutdownTuple(reason);
}

/** A short human-readable form, for error messages and logs. */
export function formatReason(reason: ExitReason): string {
  if (reason instanceof Error) return `${reason.name}: ${reason.message}`;
  if (typeof reason === 'string') return reason;
  try {
    return JSON.stringify(reason) ?? String(reason);
  } catch {
    return String(reason);
  }
}
