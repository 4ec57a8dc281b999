/**
 * A call's options item (PROTOCOL.md, "Call context"): `{progress?, trace?, context?}`, encoded once
 * when the call is made and appended when it is sent, as a `call`'s 7th item, a batch entry's 5th
 * or a `stream`'s 8th. Most calls have none and send nothing more.
 */
import type { Codec } from './codec.js';

/** The caller's W3C Trace Context (and Baggage) headers. */
export interface TraceHeaders {
  traceparent: string;
  tracestate?: string;
  baggage?: string;
}

export interface CallOptionsItem {
  /** Someone listens for `progress()`. */
  progress?: boolean;
  trace?: TraceHeaders;
  context?: Readonly<Record<string, unknown>>;
  /** The call's one argument is the inputs of several calls to a batched function. */
  batched?: boolean;
}

const NAMES = ['options'] as const;

/** The encoded options item, or undefined when there is nothing to say. */
export function encodeCallOptions(codec: Codec, item: CallOptionsItem): Buffer | undefined {
  const map = optionsMap(item);
  if (map === undefined) return undefined;
  const frames = codec.encodeEnvelope([map], NAMES);
  // A fixarray of one item: the map's bytes follow its one-byte header.
  return frames[0]!.subarray(1);
}

/** The options item as a map, or undefined when it would be empty. */
export function optionsMap(item: CallOptionsItem): Record<string, unknown> | undefined {
  if (!item.progress && item.trace === undefined && item.context === undefined && !item.batched) return undefined;
  const map: Record<string, unknown> = {};
  if (item.progress) map.progress = true;
  if (item.batched) map.batched = true;
  if (item.trace !== undefined) map.trace = item.trace;
  if (item.context !== undefined) map.context = item.context;
  return map;
}
