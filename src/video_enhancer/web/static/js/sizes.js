// The size plan: source → what the enhancer receives → output (docs/worker.md#output-size-policy).
// The upload ticket's plannedSizes are kept for the tab's session, for the video's page to show
// until the worker has measured the upload.

const KEY_PREFIX = "videoEnhancer.plan.";

export function sizeText(size) {
  return `${size.width}x${size.height}`;
}

/** `{sourceSize, modelInputSize, outputSize}` in words; the model input only when it differs. */
export function planText({ sourceSize, modelInputSize, outputSize }) {
  const input = sizeText(modelInputSize) === sizeText(sourceSize) ? "" : ` → ${sizeText(modelInputSize)} (model input)`;
  return `${sizeText(sourceSize)} (source)${input} → ${sizeText(outputSize)} (output)`;
}

export function rememberPlan(videoId, plannedSizes) {
  try {
    sessionStorage.setItem(KEY_PREFIX + videoId, JSON.stringify(plannedSizes));
  } catch {
    // Storage full or disabled: the page shows the plan once the upload is measured.
  }
}

export function plannedFor(videoId) {
  try {
    return JSON.parse(sessionStorage.getItem(KEY_PREFIX + videoId));
  } catch {
    return null;
  }
}
