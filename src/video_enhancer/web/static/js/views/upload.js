// Choose or drop a video, measure it, ask for a ticket, send it with progress and resume.
import { api } from "../api.js";
import { announce, errorBox, formatBytes, formatSeconds, h } from "../dom.js";
import { explainError } from "../messages.js";
import { planText, rememberPlan } from "../sizes.js";
import { UploadRefused, measureVideo, requestTicket, sendFile } from "../upload.js";

export function uploadView({ onLeave }) {
  // Leaving the view stops the upload; the video's page offers to send the rest later.
  const stop = new AbortController();
  onLeave(() => stop.abort());
  const feedback = h("div", { class: "feedback" });
  const details = h("p", { class: "file-details", id: "file-details" });
  const bar = h("progress", { id: "upload-progress", max: "100", value: "0", "aria-describedby": "upload-figures" });
  const figures = h("p", { id: "upload-figures", class: "figures" });
  const progressBox = h("div", { class: "upload-progress", hidden: true },
    h("label", { for: "upload-progress" }, "Upload"), bar, figures);
  const input = h("input", { id: "file", type: "file", accept: "video/*", class: "visually-hidden-file" });
  const zone = h("label", { for: "file", class: "dropzone" },
    h("span", { class: "dropzone-title" }, "Choose a video"), h("span", { class: "hint" }, "or drop it here"));
  const choice = startChoice();
  let limits = null;
  api("GET", "/users/me").then((me) => { limits = me.limits; }).catch(() => {});

  const start = async (file) => {
    feedback.replaceChildren();
    details.textContent = `${file.name} · ${formatBytes(file.size)}`;
    let measured;
    try {
      measured = await measureVideo(file);
    } catch (error) {
      feedback.replaceChildren(errorBox(error.message, "Try another file, or export the video again as MP4."));
      return;
    }
    details.textContent = `${file.name} · ${formatBytes(file.size)} · ${formatSeconds(measured.duration)}`;
    input.disabled = true;
    choice.disable(true);
    try {
      const ticket = await requestTicket(file, measured, choice.autoStart());
      if (ticket.plannedSizes) {
        rememberPlan(ticket.videoId, ticket.plannedSizes);
        details.textContent += ` · ${planText(ticket.plannedSizes)}`;
      }
      progressBox.hidden = false;
      announce("Uploading");
      await sendFile(file, ticket, {
        signal: stop.signal,
        onProgress: ({ sent, total, bytesPerSecond }) => showProgress(bar, figures, sent, total, bytesPerSecond),
        onRetry: ({ delayMs }) => { figures.textContent = `Connection lost. Resuming in ${Math.round(delayMs / 1000)} s…`; announce("Connection lost, the upload will resume"); },
      });
      announce("Upload complete");
      location.hash = `#/videos/${ticket.videoId}`;
    } catch (error) {
      if (stop.signal.aborted) return;
      input.disabled = false;
      choice.disable(false);
      const explained = error instanceof UploadRefused || error.code ? explainError(error, limits) : { message: error.message };
      feedback.replaceChildren(errorBox(explained.message, explained.hint));
      announce(explained.message);
    }
  };

  input.addEventListener("change", () => { if (input.files[0]) start(input.files[0]); });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("dragging"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    const file = event.dataTransfer.files[0];
    if (file) start(file);
  });
  return h("section", { class: "card" },
    h("h1", { tabindex: "-1" }, "Enhance a video"),
    h("p", { class: "lead" }, "Your video is made four times larger and sharper. You can leave this page once the upload is done."),
    choice.element, input, zone, details, progressBox, feedback);
}

function showProgress(bar, figures, sent, total, bytesPerSecond) {
  const percent = total ? (sent / total) * 100 : 0;
  bar.value = percent;
  const speed = bytesPerSecond ? ` · ${formatBytes(bytesPerSecond)}/s` : "";
  figures.textContent = `${formatBytes(sent)} of ${formatBytes(total)} (${Math.floor(percent)} %)${speed}`;
}

/** Preview first (the default: nothing is charged until the whole video is started) or at once. */
function startChoice() {
  const radio = (id, value, checked, label, hint) => {
    const input = h("input", { type: "radio", name: "start", id, value, checked, "aria-describedby": `${id}-hint` });
    return [input, h("div", { class: "choice" }, input, h("label", { for: id }, label), h("p", { class: "hint", id: `${id}-hint` }, hint))];
  };
  const [preview, previewRow] = radio("start-preview", "preview", true, "Preview first (free)",
    "See 3 seconds before and after, then decide. Nothing is charged until you enhance the whole video.");
  const [now, nowRow] = radio("start-now", "now", false, "Enhance right away", "The whole video is enhanced as soon as it is uploaded.");
  const element = h("fieldset", { class: "start-choice" }, h("legend", {}, "When the upload is done"), previewRow, nowRow);
  return {
    element,
    autoStart: () => now.checked,
    disable: (disabled) => { preview.disabled = disabled; now.disabled = disabled; },
  };
}
