// How big each Download message is: large while few downloads are open
// (fewer messages, faster transfers), smaller as more open, so that what all
// open downloads together hold in the server stays near one memory budget.
// A device that reads slowly (or not at all) pins a few messages each: about
// four, measured (bench/fleet-load), pending in the server and in HTTP/2.

// Messages each open download holds at worst, in chunks.
export const heldChunksPerDownload = 4;
// The smallest chunk: below it, per-message costs dominate.
export const minDownloadChunk = 64 * 1024;

export interface DownloadBudget {
  // open counts a download in; the returned function counts it out.
  open(): () => void;
  // chunk is the size of the next message of any open download.
  chunk(): number;
  // How many downloads are open.
  readonly size: number;
}

// createDownloadBudget shares `memoryBytes` among open downloads, with chunks
// between minDownloadChunk (or maxChunk, if smaller) and maxChunk.
export function createDownloadBudget(memoryBytes: number, maxChunk: number): DownloadBudget {
  let open = 0;
  const floor = Math.min(minDownloadChunk, maxChunk);
  return {
    open() {
      open++;
      let closed = false;
      return () => {
        if (!closed) open--;
        closed = true;
      };
    },
    chunk() {
      const share = Math.floor(memoryBytes / (Math.max(1, open) * heldChunksPerDownload));
      return Math.max(floor, Math.min(maxChunk, share));
    },
    get size() {
      return open;
    },
  };
}
