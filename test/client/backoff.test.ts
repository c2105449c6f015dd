import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CloseCode } from '../../pkg/protocol/index.js';
import { fakeClient, FakeSocket } from './fake-socket.js';

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Fails the current attempt (closed before open, as a refused upgrade is) and returns the ms until the next one. */
function failAndWait(code = 1006): number {
  const before = FakeSocket.all.length;
  FakeSocket.last().drop(code);
  let waited = 0;
  while (FakeSocket.all.length === before) { vi.advanceTimersByTime(1); waited++; }
  return waited;
}

const step = (ceiling: number) => Math.floor(0.999 * ceiling);

describe('the reconnect backoff after a 1012 (service restart) close', () => {
  it('holds the ceiling at delay × 4 within restartWindow of the close, then lets it grow again', () => {
    const c = fakeClient({ reconnect: { delay: 100, maxDelay: 10_000, restartWindow: 1000 }, random: () => 0.999 });
    FakeSocket.last().accept();
    const waits = [failAndWait(CloseCode.ServiceRestart)];
    // Failures at 99, 298 and 697 ms after the close wait the growing steps up to 400 ms, and stay
    // there; the ones past the window (from 1,096 ms) grow on from their count of failures.
    for (let i = 0; i < 5; i++) waits.push(failAndWait());
    expect(waits).toEqual([step(100), step(200), step(400), step(400), step(1600), step(3200)]);
    c.close();
  });

  it('starts the window again at each 1012, and forgets it once a connection opens', () => {
    const c = fakeClient({ reconnect: { delay: 100, maxDelay: 10_000, restartWindow: 2000 }, random: () => 0.999 });
    FakeSocket.last().accept();
    expect([failAndWait(CloseCode.ServiceRestart), failAndWait(), failAndWait(), failAndWait()]).toEqual([step(100), step(200), step(400), step(400)]);
    FakeSocket.last().accept();
    // Opened: a close that is not a 1012, even within the last one's window, grows the backoff past 400 ms.
    expect([failAndWait(), failAndWait(), failAndWait(), failAndWait()]).toEqual([step(100), step(200), step(400), step(800)]);
    c.close();
  });

  it('treats a 1012 like any close with restartWindow: 0, and other close codes never open the window', () => {
    const off = fakeClient({ reconnect: { delay: 100, maxDelay: 10_000, restartWindow: 0 }, random: () => 0.999 });
    FakeSocket.last().accept();
    expect([failAndWait(CloseCode.ServiceRestart), failAndWait(), failAndWait()]).toEqual([step(100), step(200), step(400)]);
    off.close();
    FakeSocket.all = [];
    const going = fakeClient({ reconnect: { delay: 100, maxDelay: 10_000 }, random: () => 0.999 });
    FakeSocket.last().accept();
    expect([failAndWait(CloseCode.GoingAway), failAndWait(), failAndWait()]).toEqual([step(100), step(200), step(400)]);
    going.close();
  });

  it('still counts the failures within the window towards maxAttempts', () => {
    const c = fakeClient({ reconnect: { delay: 100, maxAttempts: 3 }, random: () => 0.999 });
    FakeSocket.last().accept();
    failAndWait(CloseCode.ServiceRestart);
    failAndWait();
    failAndWait();
    FakeSocket.last().drop();
    expect(c.status).toBe('closed');
    expect(c.lastError).toMatchObject({ code: 'reconnect_failed' });
  });
});
