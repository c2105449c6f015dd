import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { clock } from '../../pkg/clock.js';
import { Admission, TOKEN, takeToken } from '../../pkg/core/limits.js';

const caps = { maxConnections: 3, maxConnectionsPerIp: 2, maxConnectionsPerUser: 1 };
const closed = (socket: PassThrough) => new Promise<void>((resolve) => { socket.once('close', () => resolve()); socket.destroy(); });

describe('Admission', () => {
  it('admits up to the per-IP cap and answers 429 for one more from that IP, while another IP still gets in', () => {
    const admission = new Admission(caps);
    expect(admission.refuseIp('10.0.0.1')).toBeNull();
    admission.admit(new PassThrough(), '10.0.0.1');
    expect(admission.refuseIp('10.0.0.1')).toBeNull();
    admission.admit(new PassThrough(), '10.0.0.1');
    expect(admission.refuseIp('10.0.0.1')).toBe(429);
    expect(admission.refuseIp('10.0.0.2')).toBeNull();
    expect(admission.connections).toBe(2);
  });

  it('answers 503 for anyone once the total cap is reached, before the per-IP cap', () => {
    const admission = new Admission(caps);
    admission.admit(new PassThrough(), 'a');
    admission.admit(new PassThrough(), 'b');
    expect(admission.refuseIp('c')).toBeNull();
    admission.admit(new PassThrough(), 'c');
    expect(admission.refuseIp('d')).toBe(503);
    expect(admission.refuseIp('a')).toBe(503);
  });

  it('counts a closed socket out of the total, its IP and its user, exactly once', async () => {
    const admission = new Admission(caps);
    const socket = new PassThrough();
    admission.admit(socket, 'a');
    admission.admitUser(socket, 'ada');
    const other = new PassThrough();
    admission.admit(other, 'a');
    expect(admission.refuseUser('ada')).toBe(429);
    expect(admission.refuseIp('a')).toBe(429);
    await closed(socket);
    socket.emit('close');
    expect(admission.connections).toBe(1);
    expect(admission.refuseIp('a')).toBeNull();
    expect(admission.refuseUser('ada')).toBeNull();
    admission.admit(new PassThrough(), 'a');
    expect(admission.refuseIp('a')).toBe(429);
  });

  it('keeps one user\'s count apart from another\'s and from anonymous sockets', async () => {
    const admission = new Admission({ ...caps, maxConnectionsPerUser: 2 });
    const one = new PassThrough();
    admission.admit(one, 'a');
    admission.admitUser(one, 'ada');
    expect(admission.refuseUser('ada')).toBeNull();
    expect(admission.refuseUser('bob')).toBeNull();
    const two = new PassThrough();
    admission.admit(two, 'b');
    admission.admitUser(two, 'ada');
    expect(admission.refuseUser('ada')).toBe(429);
    const anonymous = new PassThrough();
    admission.admit(anonymous, 'c');
    await closed(anonymous);
    expect(admission.refuseUser('ada')).toBe(429);
    await closed(two);
    expect(admission.refuseUser('ada')).toBeNull();
    expect(admission.connections).toBe(1);
  });

  it('ignores the close of a socket it never admitted', async () => {
    const admission = new Admission(caps);
    admission.admit(new PassThrough(), 'a');
    const stranger = new PassThrough();
    stranger.on('close', () => undefined);
    await closed(stranger);
    expect(admission.connections).toBe(1);
  });
});

describe('takeToken', () => {
  it('takes one token while the bucket has one and refuses when it is empty', () => {
    const bucket = { tokens: 2 * TOKEN, refilledAt: clock() };
    expect(takeToken(bucket, 0.001, 2)).toBe(true);
    expect(takeToken(bucket, 0.001, 2)).toBe(true);
    expect(takeToken(bucket, 0.001, 2)).toBe(false);
  });
});
