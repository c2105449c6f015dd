import type { RequestHandler } from 'express';

/**
 * Caps request bodies at `limit` bytes and, past it, answers 413 at once and closes the connection:
 * nothing more of the body is read. express.json's own limit answers 413 too, but only after it has
 * read the whole body to its end, which an endless chunked body never reaches. Mount it before the
 * body parsers.
 */
export function capBodies(limit: number): RequestHandler {
  return (req, res, next) => {
    const refuse = () => {
      if (res.headersSent) return;
      res.setHeader('Connection', 'close');
      res.status(413).json({ error: { code: 'too_large', message: `a request body is at most ${limit} bytes` } });
      // What the client is still sending is not read: the connection ends with the answer.
      res.once('finish', () => req.socket.destroy());
    };
    if (Number(req.headers['content-length']) > limit) return refuse();
    let size = 0;
    const count = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return;
      req.off('data', count);
      req.pause();
      refuse();
    };
    // Listening before the parser below does, in the same tick: both see every chunk.
    if (req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] !== undefined) req.on('data', count);
    next();
  };
}
