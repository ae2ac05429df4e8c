// Live events as Server-Sent Events with a stream token: one job's (GET /jobs/{id}/events) or all
// of the user's (GET /events, for previews, which belong to no job).
// EventSource resumes by itself with Last-Event-ID; when it gives up (a token expired, the server
// restarted) a fresh stream is opened with a new token, which replays the events from the
// start: ids already seen are skipped, so nothing is missed and nothing is applied twice.
import { api } from "./api.js";

const JOB_EVENT_TYPES = ["video.uploaded", "job.queued", "job.processing", "job.progress", "job.completed", "job.failed", "job.canceled"];
const JOB_FINAL_TYPES = new Set(["job.completed", "job.failed", "job.canceled"]);
const PREVIEW_EVENT_TYPES = ["preview.completed", "preview.failed"];
const RECONNECT_DELAY_MS = 1500;

export function followJob(jobId, { onEvent, onConnection = () => {} }) {
  const path = `/jobs/${encodeURIComponent(jobId)}/events`;
  return follow(path, JOB_EVENT_TYPES, (type) => JOB_FINAL_TYPES.has(type), { onEvent, onConnection });
}

/** The final event (preview.completed or preview.failed) of the preview `previewId`. */
export function followPreview(previewId, { onEvent, onConnection = () => {} }) {
  const mine = (event) => event.data?.previewId === previewId;
  return follow("/events", PREVIEW_EVENT_TYPES, (type, event) => mine(event), {
    onEvent: (event) => { if (mine(event)) onEvent(event); },
    onConnection,
  });
}

function follow(path, types, isFinal, { onEvent, onConnection }) {
  let source = null;
  let lastId = 0;
  let stopped = false;
  let timer = null;

  const open = async () => {
    if (stopped) return;
    try {
      const { token } = await api("POST", "/events/token");
      if (stopped) return;
      source = new EventSource(`${path}?token=${encodeURIComponent(token)}`);
    } catch {
      retry();
      return;
    }
    source.addEventListener("open", () => onConnection("live"));
    source.addEventListener("error", () => {
      if (stopped) return;
      onConnection("reconnecting");
      if (source.readyState === EventSource.CLOSED) retry();
    });
    for (const type of types) source.addEventListener(type, (message) => receive(type, message));
  };

  const receive = (type, message) => {
    const id = Number(message.lastEventId);
    if (id && id <= lastId) return;
    if (id) lastId = id;
    const event = JSON.parse(message.data);
    onEvent(event);
    if (isFinal(type, event)) stop();
  };

  const retry = () => {
    source?.close();
    clearTimeout(timer);
    timer = setTimeout(open, RECONNECT_DELAY_MS);
  };

  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    source?.close();
  };

  open();
  return { stop };
}
