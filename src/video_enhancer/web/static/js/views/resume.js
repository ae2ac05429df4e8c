// An upload left unfinished (the page was closed, the phone slept): choose the same file again and
// only the missing bytes are sent.
import { announce, errorBox, formatBytes, h } from "../dom.js";
import { explainError } from "../messages.js";
import { renewTicket, sendFile } from "../upload.js";

export function resumePanel(video) {
  const feedback = h("div", { class: "feedback" });
  const bar = h("progress", { id: "resume-progress", max: "100", value: "0", hidden: true, "aria-label": "Upload" });
  const figures = h("p", { class: "figures" });
  const input = h("input", { id: "resume-file", type: "file", accept: "video/*" });
  input.addEventListener("change", async () => {
    const file = input.files[0];
    feedback.replaceChildren();
    if (!file) return;
    if (file.size !== video.sizeBytes) {
      feedback.replaceChildren(errorBox("This is not the same file.", `Choose “${video.originalFilename}” (${formatBytes(video.sizeBytes)}).`));
      return;
    }
    input.disabled = true;
    bar.hidden = false;
    try {
      const ticket = await renewTicket(video.id);
      await sendFile(file, ticket, {
        resume: true,
        onProgress: ({ sent, total }) => { bar.value = (sent / total) * 100; figures.textContent = `${formatBytes(sent)} of ${formatBytes(total)}`; },
        onRetry: () => { figures.textContent = "Connection lost, resuming…"; },
      });
      announce("Upload complete");
      panel.replaceChildren(h("p", {}, "Upload complete."));
    } catch (error) {
      input.disabled = false;
      const { message, hint } = explainError(error);
      feedback.replaceChildren(errorBox(message, hint));
    }
  });
  const panel = h("div", { class: "resume" },
    h("p", {}, "The upload did not finish. Choose the same file again to send the rest, or cancel."),
    h("label", { for: "resume-file" }, `Choose “${video.originalFilename}” again`), input, bar, figures, feedback);
  return panel;
}
