import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeError, ErrorCode, ERRORS } from '../../pkg/protocol/index.js';

describe('the error-code registry', () => {
  it('describes every code by name exactly once, with a meaning and a fix', () => {
    const codes = new Set(Object.values(ErrorCode));
    expect([...codes].sort()).toEqual(Object.keys(ERRORS).sort());
    for (const code of codes) {
      expect(ERRORS[code].meaning.length, code).toBeGreaterThan(10);
      expect(ERRORS[code].fix.length, code).toBeGreaterThan(5);
    }
  });

  it('names the type error invalid_type, also under its deprecated name', () => {
    expect(ErrorCode.InvalidType).toBe('invalid_type');
    expect(ErrorCode.InvalidEvent).toBe('invalid_type');
  });

  it('is listed row by row in docs/protocol.md, as the registry says it', () => {
    const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
    for (const [code, info] of Object.entries(ERRORS)) {
      expect(doc, code).toContain(`| \`${code}\` | ${info.status ?? ''} | ${info.from} | ${info.meaning} | ${info.fix} |`);
    }
  });

  it('describes the application\'s own codes as unknown', () => {
    expect(describeError('order_sold_out')).toBeUndefined();
    expect(describeError('toString')).toBeUndefined();
    expect(describeError('unavailable')?.status).toBe(503);
  });
});
