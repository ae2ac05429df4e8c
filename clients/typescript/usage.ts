// A browser or React Native client written against the types that openapi-typescript generates from
// the API's /openapi.json (`schema.d.ts`, generated next to this file by the test suite, never
// edited by hand). The test compiles both with `tsc --strict`: a renamed field, a lost enum or an
// operation that stops declaring its errors breaks the build here before it breaks an app.
import createClient from "openapi-fetch";

import type { components, operations, paths } from "./schema";

type Schemas = components["schemas"];
export type ErrorCode = Schemas["ErrorCode"];
export type JobStatus = Schemas["JobStatus"];
export type JobStage = Schemas["JobStage"];
export type EnhancerName = Schemas["EnhancerName"];

const TERMINAL: readonly JobStatus[] = ["COMPLETED", "FAILED", "CANCELED"];

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

function raise(body: Schemas["ErrorResponse"]): never {
  throw new ApiError(body.error.code, body.error.message);
}

export function makeClient(baseUrl: string) {
  return createClient<paths>({ baseUrl });
}
type Client = ReturnType<typeof makeClient>;

export async function signIn(client: Client, email: string, password: string): Promise<Schemas["TokenResponse"]> {
  const { data, error } = await client.POST("/auth/login", { body: { email, password } });
  if (error) raise(error);
  const bearer: "bearer" = data.tokenType;
  console.log(`${bearer} token valid ${data.expiresIn} s`);
  return data;
}

export async function rotate(client: Client, refreshToken: string): Promise<string> {
  const { data, error } = await client.POST("/auth/refresh", { body: { refreshToken } });
  if (error) raise(error);
  await client.POST("/auth/logout", { body: { refreshToken: data.refreshToken } });
  return data.accessToken;
}

export async function minutesLeft(client: Client, accessToken: string): Promise<number | null> {
  const headers = { Authorization: `Bearer ${accessToken}` };
  const { data, error } = await client.GET("/users/me", { headers });
  if (error) raise(error);
  return data.usage.minutesRemaining;
}

export async function enhance(client: Client, accessToken: string, file: Blob): Promise<string | null> {
  const headers = { Authorization: `Bearer ${accessToken}` };
  const body = { filename: "clip.mp4", contentType: "video/mp4", sizeBytes: file.size, durationSeconds: 12 };
  const ticket = await client.POST("/videos/upload", { headers, body });
  if (ticket.error) {
    if (ticket.error.error.code === "QUOTA_EXCEEDED") return null;
    raise(ticket.error);
  }
  const { uploadUrl, uploadMethod, uploadHeaders, videoId, jobId } = ticket.data;
  await fetch(uploadUrl, { method: uploadMethod, headers: uploadHeaders, body: file });
  await client.POST("/videos/{videoId}/complete", { headers, params: { path: { videoId } } });
  const status = await follow(client, headers, jobId);
  if (status !== "COMPLETED") return null;
  const video = await client.GET("/videos/{videoId}", { headers, params: { path: { videoId } } });
  if (video.error) raise(video.error);
  return video.data.downloadUrl;
}

// Upload with autoStart false, look at the free preview (signed like any output), then start the
// job with the options the user picked.
export async function previewThenStart(client: Client, accessToken: string, videoId: string): Promise<number | null> {
  const headers = { Authorization: `Bearer ${accessToken}` };
  const path = { videoId };
  const asked = await client.POST("/videos/{videoId}/preview", { headers, params: { path }, body: { startSeconds: 2 } });
  if (asked.error) raise(asked.error);
  const video = await client.GET("/videos/{videoId}", { headers, params: { path } });
  if (video.error) raise(video.error);
  const preview: Schemas["PreviewOut"] | undefined = video.data.previews[0];
  const signed: string | null = preview?.contentCredentials?.validationState ?? null;
  console.log(preview?.afterUrl, preview?.quality?.psnrDb, preview?.outputHeight, signed);
  const body = { enhancer: "realesr-general-x4v3" as const, outputHeight: 720 };
  const started = await client.POST("/videos/{videoId}/jobs", { headers, params: { path }, body });
  if (started.error) {
    if (started.error.error.code === "PLAN_LIMIT") return null;
    raise(started.error);
  }
  const enhancer: EnhancerName | null = started.data.enhancer;
  console.log(enhancer);
  return started.data.outputHeight;
}

async function follow(client: Client, headers: Record<string, string>, jobId: string): Promise<JobStatus> {
  for (;;) {
    const { data, error } = await client.GET("/jobs/{jobId}", { headers, params: { path: { jobId } } });
    if (error) raise(error);
    const stage: JobStage | null = data.stage;
    const enhancer: EnhancerName | null = data.enhancer;
    console.log(stage, data.progressPercent, data.etaSeconds, enhancer, data.minutesHeld);
    if (TERMINAL.includes(data.status)) return data.status;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

export async function housekeeping(client: Client, accessToken: string): Promise<number> {
  const headers = { Authorization: `Bearer ${accessToken}` };
  const query = { status: "QUEUED" as const, limit: 50, offset: 0 };
  const jobs = await client.GET("/jobs", { headers, params: { query } });
  if (jobs.error) raise(jobs.error);
  for (const job of jobs.data.items) {
    await client.POST("/jobs/{jobId}/cancel", { headers, params: { path: { jobId: job.id } } });
  }
  const videos = await client.GET("/videos", { headers, params: { query: { limit: 10 } } });
  if (videos.error) raise(videos.error);
  for (const video of videos.data.items) {
    await client.DELETE("/videos/{videoId}", { headers, params: { path: { videoId: video.id } } });
  }
  const stats = await client.GET("/admin/stats", { headers });
  if (stats.error) raise(stats.error);
  return stats.data.minutesChargedLast30Days + jobs.data.total + videos.data.total;
}

export async function register(client: Client, email: string, password: string): Promise<Schemas["Plan"]> {
  const { data, error } = await client.POST("/auth/register", { body: { email, password } });
  if (error) raise(error);
  return data.plan;
}

// Operations are named by their operationId, not by a generated path-and-method name.
export type CreateUpload = operations["createUpload"]["requestBody"];
export type GetJob = operations["getJob"]["responses"][200];
export type CancelJobConflict = operations["cancelJob"]["responses"][409];
export type RateLimited = operations["login"]["responses"][429];
export type AdminStats = operations["getAdminStats"]["responses"][200];

// Enums are closed sets, and the wire is camelCase: each line below must fail to compile.
// @ts-expect-error: not a code the API answers with
export const unknownCode: ErrorCode = "NO_SUCH_CODE";
// @ts-expect-error: not a job status
export const unknownStatus: JobStatus = "RUNNING";
// @ts-expect-error: not an enhancer
export const unknownEnhancer: EnhancerName = "bicubic";
// @ts-expect-error: snake_case is not on the wire
export const snakeToken: Schemas["TokenResponse"]["access_token"] = "";
// @ts-expect-error: snake_case is not accepted in requests either
export const snakeRefresh: Schemas["RefreshRequest"] = { refresh_token: "" };
// @ts-expect-error: operations have explicit ids, not FastAPI's generated ones
export type Generated = operations["get_job_jobs__job_id__get"];
