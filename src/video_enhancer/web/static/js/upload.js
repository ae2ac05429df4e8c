// Measuring a file in the browser and sending it with the resumable upload protocol
// (docs/videos.md, "Uploads a phone cannot lose"): pieces with Content-Range, 308 until the last,
// and after a network drop `Content-Range: bytes */TOTAL` asks how much arrived.
import { api, newIdempotencyKey } from "./api.js";

const PIECE_BYTES = 8 * 1024 * 1024; // a multiple of 256 KiB, as GCS requires
const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 15000, 30000];
const TYPES_BY_EXTENSION = {
  mp4: "video/mp4", mov: "video/quicktime", mkv: "video/x-matroska", webm: "video/webm", m4v: "video/x-m4v", "3gp": "video/3gpp",
};

export function contentTypeOf(file) {
  if (file.type) return file.type;
  const extension = file.name.split(".").pop().toLowerCase();
  return TYPES_BY_EXTENSION[extension] ?? "application/octet-stream";
}

/** Duration in seconds and the upright picture size, read by the browser from the file's metadata. */
export function measureVideo(file) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const video = document.createElement("video");
    video.preload = "metadata";
    video.muted = true;
    const done = (result, error) => {
      URL.revokeObjectURL(url);
      video.removeAttribute("src");
      if (error) reject(error);
      else resolve(result);
    };
    video.addEventListener("loadedmetadata", () => {
      const size = video.videoWidth && video.videoHeight ? { width: video.videoWidth, height: video.videoHeight } : {};
      if (Number.isFinite(video.duration) && video.duration > 0) done({ duration: video.duration, ...size });
      else done(null, new Error("This browser cannot tell how long the video is."));
    });
    video.addEventListener("error", () => done(null, new Error("This browser cannot read this file as a video.")));
    video.src = url;
  });
}

/** A fresh resumable session for a video still waiting for its bytes (the same upload). */
export async function renewTicket(videoId) {
  return api("POST", `/videos/${encodeURIComponent(videoId)}/upload-url`, { body: { resumable: true } });
}

/** `autoStart` false: the job waits (nothing held or charged) for a preview and POST /videos/{id}/jobs. */
/** With `width`/`height` (upright, as the browser shows it) the ticket carries `plannedSizes`. */
export async function requestTicket(file, { duration, width, height }, autoStart = true) {
  return api("POST", "/videos/upload", {
    headers: { "Idempotency-Key": newIdempotencyKey() },
    body: { filename: file.name, contentType: contentTypeOf(file), sizeBytes: file.size, durationSeconds: duration, width, height, resumable: true, autoStart },
  });
}

/**
 * Send `file` to the ticket's resumable URL. `onProgress({sent, total, bytesPerSecond})` is called
 * as bytes leave; `onRetry({attempt, delayMs})` when the network dropped and a resume is scheduled.
 */
export async function sendFile(file, ticket, { onProgress = () => {}, onRetry = () => {}, signal, resume = false } = {}) {
  const upload = { file, url: ticket.uploadUrl, headers: ticket.uploadHeaders ?? {}, total: file.size };
  const meter = speedMeter();
  let offset = 0;
  if (resume) {
    // A session begun before (another page load): send only what the server does not hold yet.
    const status = await askReceived(upload, signal);
    if (status.done) return status.body;
    offset = status.received;
  }
  let failures = 0;
  while (true) {
    signal?.throwIfAborted();
    try {
      const answer = await sendPiece(upload, offset, signal, (sent) => onProgress({ sent, total: upload.total, bytesPerSecond: meter(sent) }));
      if (answer.done) {
        onProgress({ sent: upload.total, total: upload.total, bytesPerSecond: meter(upload.total) });
        return answer.body;
      }
      offset = answer.received;
      failures = 0;
    } catch (error) {
      if (!(error instanceof NetworkDrop)) throw error;
      const delayMs = RETRY_DELAYS_MS[Math.min(failures, RETRY_DELAYS_MS.length - 1)];
      failures += 1;
      onRetry({ attempt: failures, delayMs });
      await waitForNetwork(delayMs, signal);
      signal?.throwIfAborted();
      const status = await askReceived(upload, signal).catch((askError) => {
        if (askError instanceof NetworkDrop) return { done: false, received: offset };
        throw askError;
      });
      if (status.done) return status.body;
      offset = status.received;
    }
  }
}

class NetworkDrop extends Error {}

export class UploadRefused extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function sendPiece(upload, offset, signal, onSent) {
  const end = Math.min(offset + PIECE_BYTES, upload.total);
  const range = `bytes ${offset}-${end - 1}/${upload.total}`;
  return put(upload, range, upload.file.slice(offset, end), signal, (loaded) => onSent(offset + loaded));
}

function askReceived(upload, signal) {
  return put(upload, `bytes */${upload.total}`, null, signal, () => {});
}

function put(upload, contentRange, body, signal, onLoaded) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    signal?.addEventListener("abort", () => request.abort());
    request.addEventListener("abort", () => reject(signal?.reason ?? new DOMException("Upload stopped", "AbortError")));
    request.open("PUT", upload.url);
    for (const [name, value] of Object.entries(upload.headers)) request.setRequestHeader(name, value);
    request.setRequestHeader("Content-Range", contentRange);
    request.upload.addEventListener("progress", (event) => onLoaded(event.loaded));
    request.addEventListener("error", () => reject(new NetworkDrop("network error")));
    request.addEventListener("timeout", () => reject(new NetworkDrop("timeout")));
    request.addEventListener("load", () => resolve(request));
    request.send(body);
  }).then((request) => interpret(request));
}

function interpret(request) {
  if (request.status === 308) return { done: false, received: receivedFrom(request.getResponseHeader("Range")) };
  if (request.status >= 200 && request.status < 300) {
    let body = null;
    try { body = JSON.parse(request.responseText); } catch { body = null; }
    return { done: true, body };
  }
  if (request.status === 409) {
    const held = request.getResponseHeader("Range");
    if (held !== null) return { done: false, received: receivedFrom(held) };
  }
  if (request.status === 0 || request.status >= 500) throw new NetworkDrop(`status ${request.status}`);
  let error = {};
  try { error = JSON.parse(request.responseText).error ?? {}; } catch { error = {}; }
  throw new UploadRefused(request.status, error.code ?? "UPLOAD_FAILED", error.message ?? `The upload was refused (${request.status}).`);
}

function receivedFrom(rangeHeader) {
  const match = /bytes=0-(\d+)/.exec(rangeHeader ?? "");
  return match ? Number(match[1]) + 1 : 0;
}

function waitForNetwork(delayMs, signal) {
  return new Promise((resolve) => {
    const finish = () => { clearTimeout(timer); window.removeEventListener("online", finish); resolve(); };
    const timer = setTimeout(finish, navigator.onLine ? delayMs : 60_000);
    window.addEventListener("online", finish);
    signal?.addEventListener("abort", finish);
  });
}

/** Bytes per second over the last few seconds. */
function speedMeter() {
  const samples = [];
  return (sent) => {
    const now = performance.now();
    samples.push([now, sent]);
    while (samples.length > 2 && now - samples[0][0] > 3000) samples.shift();
    const [firstTime, firstSent] = samples[0];
    const seconds = (now - firstTime) / 1000;
    return seconds > 0.05 ? Math.max(0, (sent - firstSent) / seconds) : 0;
  };
}
