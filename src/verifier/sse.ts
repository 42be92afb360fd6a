/**
 * A minimal server-sent events reader over fetch (WHATWG HTML §9.2.6 "Interpreting an event stream"):
 * lines end in CRLF, LF or CR; `data`, `event`, `id` and `retry` fields; lines starting with ":" are
 * comments, which this reader reports too (the key event stream's heartbeats are comments).
 */
export type SseItem = { kind: 'event'; event: string; data: string; id: string | undefined } | { kind: 'comment'; text: string } | { kind: 'retry'; ms: number };

/** The longest line accepted: a stream that sends more without a line break is not ours. */
const MAX_LINE = 64 * 1024;

export async function* readSse(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<SseItem> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  const onAbort = () => void reader.cancel().catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  let buffer = '';
  let data: string[] = [];
  let event = '';
  let id: string | undefined;
  let sawCr = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer.charCodeAt(i);
        if (c !== 10 && c !== 13) continue;
        // A LF right after a CR ends nothing: the CR already ended the line.
        if (c === 10 && sawCr && i === start) {
          sawCr = false;
          start = i + 1;
          continue;
        }
        sawCr = c === 13;
        const line = buffer.slice(start, i);
        start = i + 1;
        if (line === '') {
          if (data.length) yield { kind: 'event', event: event || 'message', data: data.join('\n'), id };
          data = [];
          event = '';
          continue;
        }
        if (line.startsWith(':')) {
          yield { kind: 'comment', text: line.slice(1).trimStart() };
          continue;
        }
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? '' : line.slice(colon + 1);
        if (text.startsWith(' ')) text = text.slice(1);
        if (field === 'data') data.push(text);
        else if (field === 'event') event = text;
        else if (field === 'id' && !text.includes('\0')) id = text;
        else if (field === 'retry' && /^\d+$/.test(text)) yield { kind: 'retry', ms: Number(text) };
      }
      buffer = buffer.slice(start);
      if (buffer.length > MAX_LINE) throw new Error('event stream line too long');
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await reader.cancel().catch(() => undefined);
  }
}
