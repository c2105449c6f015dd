/** What a WebRTC page's connections report (getStats), read from Node through Playwright. */
import type { BrowserContext, Page } from 'playwright-core';

/**
 * Keeps every `RTCPeerConnection` a page makes in `window.peerConnections`, so a test can read
 * their stats however the page made them (the example's call page, a hook).
 */
export async function recordPeerConnections(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    const made: RTCPeerConnection[] = [];
    (window as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections = made;
    window.RTCPeerConnection = class extends Native {
      constructor(config?: RTCConfiguration) {
        super(config);
        made.push(this);
      }
    } as typeof RTCPeerConnection;
  });
}

/** Video frames the page decoded from each open connection (inbound-rtp video `framesDecoded`), one entry per connection. */
export function framesDecoded(page: Page): Promise<number[]> {
  return page.evaluate(async () => {
    const open = (window as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections.filter((pc) => pc.connectionState !== 'closed');
    return Promise.all(open.map(async (pc) => {
      let frames = 0;
      (await pc.getStats()).forEach((report: { type: string; kind?: string; framesDecoded?: number }) => {
        if (report.type === 'inbound-rtp' && report.kind === 'video') frames += report.framesDecoded ?? 0;
      });
      return frames;
    }));
  });
}

/** The candidate types (`host`, `srflx`, `relay`) of each open connection's selected pair, local and remote. */
export function selectedPairs(page: Page): Promise<Array<{ local: string; remote: string } | null>> {
  return page.evaluate(async () => {
    const open = (window as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections.filter((pc) => pc.connectionState !== 'closed');
    return Promise.all(open.map(async (pc) => {
      const reports = new Map<string, Record<string, unknown>>();
      (await pc.getStats()).forEach((report: Record<string, unknown>) => reports.set(report.id as string, report));
      const transport = [...reports.values()].find((r) => r.type === 'transport' && r.selectedCandidatePairId);
      const pair = transport && reports.get(transport.selectedCandidatePairId as string);
      if (!pair || pair.state !== 'succeeded') return null;
      return {
        local: reports.get(pair.localCandidateId as string)?.candidateType as string,
        remote: reports.get(pair.remoteCandidateId as string)?.candidateType as string,
      };
    }));
  });
}
