// OpenAI-style API errors: an HTTP status plus the body {"error":{"message","type","param","code"}} that the
// official clients parse (openai-node maps 400/401/404/429/5xx to its error classes and reads body.error).
// Leaves out: localisation; the HTTP writing itself (server.ts).

export type ApiErrorType = "invalid_request_error" | "authentication_error" | "not_found_error" | "rate_limit_error" |
  "server_error" | "timeout_error";

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly type: ApiErrorType = "invalid_request_error",
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Extra response headers, e.g. retry-after on 429. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 for a request field that is missing, of the wrong type or out of range. */
export function invalid(param: string, message: string, code: string | null = "invalid_value"): ApiError {
  return new ApiError(400, message, "invalid_request_error", param, code);
}
