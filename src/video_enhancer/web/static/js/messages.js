// API error codes in plain words, with what the person can do about them.
import { formatBytes, formatSeconds } from "./dom.js";

export function explainError(error, limits) {
  switch (error.code) {
    case "QUOTA_EXCEEDED":
      return { message: "Your plan has no room for another video right now.", hint: quotaHint(error, limits) };
    case "DURATION_EXCEEDED":
      return {
        message: "This video is longer than your plan allows.",
        hint: `${limits ? `Your plan takes videos up to ${formatSeconds(limits.maxDurationSeconds)}. ` : ""}Trim the video on your phone and upload the shorter part, or move to a larger plan.`,
      };
    case "UPLOAD_TOO_LARGE":
      return {
        message: "This file is larger than your plan accepts.",
        hint: `${limits ? `The limit is ${formatBytes(limits.maxUploadBytes)}. ` : ""}Export the video at a lower quality or trim it, then upload it again.`,
      };
    case "UNSUPPORTED_MEDIA_TYPE":
      return { message: "This kind of file is not supported.", hint: "Choose an MP4, MOV, MKV, WebM, M4V or 3GP video." };
    case "PREVIEW_LIMIT_REACHED":
      return { message: "You have made all the free previews your plan allows for today.", hint: "Try again tomorrow, or enhance the whole video now." };
    case "INVALID_STATE":
      return { message: "This video cannot do that right now.", hint: "Reload the page to see where it stands." };
    case "INVALID_CREDENTIALS":
      return { message: "That email and password do not match an account.", hint: "Check both, or sign up if you are new." };
    case "EMAIL_TAKEN":
    case "EMAIL_ALREADY_REGISTERED":
      return { message: "An account with this email already exists.", hint: "Log in instead." };
    case "RATE_LIMITED":
      return { message: "Too many attempts.", hint: "Wait a few minutes and try again." };
    case "NETWORK_ERROR":
      return { message: "The server cannot be reached.", hint: "Check your connection and try again." };
    case "VALIDATION_ERROR":
      return { message: "Some of the information is not valid.", hint: error.message };
    default:
      return { message: error.message || "Something went wrong.", hint: error.code ? `Error code: ${error.code}` : "" };
  }
}

function quotaHint(error, limits) {
  if (limits?.lifetimeVideos !== null && limits?.lifetimeVideos !== undefined) {
    const videos = `${limits.lifetimeVideos} video${limits.lifetimeVideos === 1 ? "" : "s"}`;
    return `Your plan includes ${videos} in total. A video canceled before it is ready gives its place back: cancel one that is still waiting, or move to a larger plan.`;
  }
  if (limits?.minutesPerCycle) {
    return `${error.message} Your plan includes ${limits.minutesPerCycle} minutes per 30-day cycle; they renew at the end of the cycle (see Account). Cancel a video that is still waiting, upload a shorter one, or move to a larger plan.`;
  }
  return `${error.message} Cancel a video that is still waiting, or move to a larger plan.`;
}

export const STATUS_WORDS = {
  AWAITING_UPLOAD: "Waiting for the upload",
  UPLOADED: "Uploaded",
  QUEUED: "Waiting in line",
  PROCESSING: "Enhancing",
  COMPLETED: "Ready",
  FAILED: "Failed",
  CANCELED: "Canceled",
};

export const STAGE_WORDS = {
  downloading: "Fetching the upload",
  probing: "Reading the video",
  decoding: "Reading the frames",
  enhancing: "Enhancing the frames",
  encoding: "Writing the video",
  muxing: "Adding the sound",
  joining: "Joining the parts",
  verifying: "Checking the result",
  uploading: "Saving the result",
};

export const PREVIEW_WORDS = {
  QUEUED: "Preview waiting in line",
  PROCESSING: "Making the preview",
  COMPLETED: "Preview ready",
  FAILED: "The preview could not be made",
};

export const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELED"]);
