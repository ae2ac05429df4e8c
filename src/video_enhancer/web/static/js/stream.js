// A job's live events from GET /jobs/{id}/events (Server-Sent Events) with a stream token.
// EventSource resumes by itself with Last-Event-ID; when it gives up (a token expired, the server
// restarted) a fresh stream is opened with a new token, which replays the job's events from the
// start: ids already seen are skipped, so nothing is missed and nothing is applied twice.
import { api } from "./api.js";

const EVENT_TYPES = ["video.uploaded", "job.queued", "job.processing", "job.progress", "job.completed", "job.failed", "job.canceled"];
const FINAL_TYPES = new Set(["job.completed", "job.failed", "job.canceled"]);
const RECONNECT_DELAY_MS = 1500;

export function followJob(jobId, { onEvent, onConnection = () => {} }) {
  let source = null;
  let lastId = 0;
  let stopped = false;
  let timer = null;

  const open = async () => {
    if (stopped) return;
    try {
      const { token } = await api("POST", "/events/token");
      if (stopped) return;
      source = new EventSource(`/jobs/${encodeURIComponent(jobId)}/events?token=${encodeURIComponent(token)}`);
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
    for (const type of EVENT_TYPES) source.addEventListener(type, (message) => receive(type, message));
  };

  const receive = (type, message) => {
    const id = Number(message.lastEventId);
    if (id && id <= lastId) return;
    if (id) lastId = id;
    onEvent(JSON.parse(message.data));
    if (FINAL_TYPES.has(type)) stop();
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
