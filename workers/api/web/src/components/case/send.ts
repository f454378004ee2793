/**
 * Sending an action: ``POST /cases/{id}/<path>`` with a ``Request-Id``. The id is kept while an
 * attempt has had no answer (a network failure: the retry must apply once) and renewed after any
 * answer, so a corrected form after a refusal is a new request.
 */
import { ApiError, newKey, raw } from "@/api/client";

export type Post = (path: string, init: RequestInit) => Promise<Response>;

export class ActionSender {
  private key: string | null = null;

  constructor(
    private readonly caseId: string,
    private readonly path: string,
    private readonly post: Post = raw,
  ) {}

  /** The Request-Id the next attempt will carry. */
  get requestId(): string {
    this.key ??= newKey("act");
    return this.key;
  }

  async send(body: Record<string, unknown>): Promise<unknown> {
    const requestId = this.requestId;
    try {
      const res = await this.post(`/cases/${encodeURIComponent(this.caseId)}/${this.path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Request-Id": requestId },
        body: JSON.stringify(body),
      });
      this.key = null;
      return await res.json().catch(() => null);
    } catch (err) {
      if (err instanceof ApiError) this.key = null; // answered: nothing pending under this id
      throw err;
    }
  }
}
