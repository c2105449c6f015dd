import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { turnCredential, webrtcSignalling } from '../../pkg/webrtc/index.js';
import { closeServer, perTest } from '../helpers.js';
import { bundle, launchForWebrtc, pageServer } from './browser.js';
import { startCoturn, type Coturn } from './coturn.js';
import { byQuery } from './peers.js';
import { framesDecoded, recordPeerConnections, selectedPairs } from './stats.js';

/**
 * Calls through a real TURN relay: Debian's coturn on loopback with `use-auth-secret`, the
 * credentials the hub issues, and pages that join with livehub/webrtc/react's `useCall` allowing
 * only relayed candidates.
 */

let browser: Browser;
let coturn: Coturn;
let page: { url: string; close(): Promise<void> };
beforeAll(async () => {
  const [script, launched, turn] = await Promise.all([
    bundle('./react-call-page.ts', 'reactCallPage', { 'process.env.NODE_ENV': '"production"' }), launchForWebrtc(), startCoturn(),
  ]);
  browser = launched;
  coturn = turn;
  const served = await pageServer(script);
  page = { url: served.url, close: () => closeServer(served.server) };
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await page?.close();
  await coturn?.stop();
});

const { start, cleanup } = perTest();
const turnUrl = () => `turn:127.0.0.1:${coturn.port}?transport=udp`;

async function newPage(): Promise<Page> {
  const context = await browser.newContext();
  cleanup(() => context.close());
  await recordPeerConnections(context);
  const tab = await context.newPage();
  await tab.goto(page.url);
  return tab;
}

/** ICE candidates a relay-only connection gathers with this TURN credential, and the errors the TURN server answered. */
function gather(tab: Page, username: string, credential: string) {
  return tab.evaluate(async ({ urls, username, credential }) => {
    const pc = new RTCPeerConnection({ iceServers: [{ urls, username, credential }], iceTransportPolicy: 'relay' });
    const types: string[] = [];
    const errors: number[] = [];
    pc.onicecandidate = ({ candidate }) => { if (candidate?.type) types.push(candidate.type); };
    pc.onicecandidateerror = (event) => errors.push((event as RTCPeerConnectionIceErrorEvent).errorCode);
    const done = new Promise<void>((resolve) => { pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') resolve(); }; });
    pc.createDataChannel('probe');
    await pc.setLocalDescription();
    await done;
    pc.close();
    return { types, errors };
  }, { urls: turnUrl(), username, credential });
}

describe('calls through a TURN relay', () => {
  it('connects two useCall pages through coturn with the credentials the hub issued: the selected pairs are relay to relay, video is decoded and the data channel carries a greeting', async () => {
    const s = await start({ logger: false, origins: [new URL(page.url).origin], authenticate: byQuery });
    webrtcSignalling(s.hub, { turn: { secret: coturn.secret, urls: turnUrl(), ttl: 600_000 } });
    const [ann, bob] = await Promise.all([newPage(), newPage()]);
    await ann!.evaluate((start) => (window as any).startCall(start), { ws: s.url, user: 'ann', room: 'relayed', relay: true });
    await bob!.evaluate((start) => (window as any).startCall(start), { ws: s.url, user: 'bob', room: 'relayed', relay: true });

    const received = (tab: Page) => tab.evaluate(() => (window as any).received as string[]);
    await expect.poll(() => received(ann!), { timeout: 30_000 }).toEqual(['hello from bob']);
    await expect.poll(() => received(bob!), { timeout: 30_000 }).toEqual(['hello from ann']);
    for (const tab of [ann!, bob!]) {
      await expect.poll(() => selectedPairs(tab), { timeout: 15_000 }).toEqual([{ local: 'relay', remote: 'relay' }]);
      await expect.poll(async () => (await framesDecoded(tab))[0]! > 0, { timeout: 20_000 }).toBe(true);
      expect(await tab.evaluate(() => (window as any).callState)).toMatchObject({ status: 'joined', error: null, peers: [{ state: 'connected', channelState: 'open', streams: 1 }] });
    }
  }, 90_000);

  it('gets a relay candidate from coturn with a fresh credential, and none with an expired one, which coturn refuses with 401', async () => {
    const tab = await newPage();
    const fresh = turnCredential(coturn.secret, 'ann', 600_000);
    const expired = turnCredential(coturn.secret, 'ann', 1000, Date.now() - 60_000);
    expect(await gather(tab, fresh.username, fresh.credential)).toMatchObject({ types: ['relay'] });
    const refused = await gather(tab, expired.username, expired.credential);
    expect(refused.types).toEqual([]);
    expect(refused.errors).toContain(401);
  }, 40_000);
});
