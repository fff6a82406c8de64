// A small Latch client on openapi-fetch, typed by the types openapi-typescript generates
// from Latch's OpenAPI document (src/schema.d.ts): `npm run build` regenerates them, so a
// change to the API that breaks this client breaks the build.
//
// The access token lives in memory only. A browser keeps the refresh token in Latch's
// HttpOnly cookie (`credentials: "include"`); a native app or server keeps it itself
// (`REFRESH_TOKEN_DELIVERY=body` or `both`, `keepRefreshToken: true`).

import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type User = components["schemas"]["UserView"];
export type Session = components["schemas"]["SessionView"];
type SignedIn = components["schemas"]["SignInResponse"];
type Problem = components["schemas"]["Problem"];

/** A problem+json answer from Latch. */
export class LatchError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
  }
}

export interface LatchOptions {
  /** Latch's base URL, e.g. `https://auth.example.com`. */
  baseUrl: string;
  /** Keep the refresh token from the body (apps that have no cookie jar). */
  keepRefreshToken?: boolean;
}

export class Latch {
  readonly api: ReturnType<typeof createClient<paths>>;
  user?: User;
  /** How many times the access token was renewed. */
  refreshes = 0;
  private accessToken?: string;
  private refreshToken?: string;
  private readonly keepRefreshToken: boolean;

  constructor(options: LatchOptions) {
    this.api = createClient<paths>({ baseUrl: options.baseUrl, credentials: "include" });
    this.keepRefreshToken = options.keepRefreshToken ?? false;
  }

  /** The access token, for calls to other services that verify it. */
  get token(): string | undefined {
    return this.accessToken;
  }

  async register(email: string, password: string, name?: string): Promise<User> {
    const { data, error, response } = await this.api.POST("/auth/register", {
      body: { email, password, name },
    });
    return this.signedIn(data, error, response);
  }

  async login(email: string, password: string): Promise<User> {
    const { data, error, response } = await this.api.POST("/auth/login", {
      body: { email, password },
    });
    if (data && "mfa_token" in data) {
      throw new LatchError(response.status, "second_factor_required", "A second factor is required.");
    }
    return this.signedIn(data, error, response);
  }

  /** Renews the access token with the refresh token (the cookie, in a browser); the
   * refresh token is rotated. */
  async refresh(): Promise<User> {
    const body = this.refreshToken ? { refresh_token: this.refreshToken } : {};
    const { data, error, response } = await this.api.POST("/auth/refresh", { body });
    const user = this.signedIn(data, error, response);
    this.refreshes += 1;
    return user;
  }

  /** On page load: signed in again through the refresh cookie, or `undefined`. */
  async restore(): Promise<User | undefined> {
    try {
      return await this.refresh();
    } catch (e) {
      if (e instanceof LatchError && e.status === 401) return undefined;
      throw e;
    }
  }

  async me(): Promise<User> {
    return this.authed(async (headers) => {
      const { data, error, response } = await this.api.GET("/auth/me", { headers });
      return unwrap(data, error, response);
    });
  }

  async sessions(): Promise<Session[]> {
    return this.authed(async (headers) => {
      const { data, error, response } = await this.api.GET("/auth/sessions", { headers });
      return unwrap(data, error, response).sessions;
    });
  }

  /** Proves the password again: the session may then change the address or delete the
   * account for the next few minutes (`REAUTH_MAX_AGE`). */
  async reauthenticate(password: string): Promise<void> {
    await this.authed(async (headers) => {
      const { data, error, response } = await this.api.POST("/auth/reauthenticate", {
        body: { password },
        headers,
      });
      this.accessToken = unwrap(data, error, response).access_token;
    });
  }

  /** Mails a link to the new address; the address changes when it is followed. */
  async changeEmail(email: string): Promise<void> {
    await this.authed(async (headers) => {
      const { error, response } = await this.api.POST("/auth/email/change", { body: { email }, headers });
      if (error !== undefined) throw problem(response, error);
    });
  }

  /** Follows the link from the new address's mail (no sign-in needed). */
  async confirmEmailChange(token: string): Promise<User> {
    const { data, error, response } = await this.api.POST("/auth/email/change/confirm", { body: { token } });
    const user = unwrap(data, error, response);
    if (this.user?.id === user.id) this.user = user;
    return user;
  }

  /** Deletes the account for good, with its sessions; Latch clears the refresh cookie. */
  async deleteAccount(): Promise<void> {
    await this.authed(async (headers) => {
      const { error, response } = await this.api.DELETE("/auth/me", { headers });
      if (error !== undefined) throw problem(response, error);
    });
    this.accessToken = this.refreshToken = this.user = undefined;
  }

  async logout(): Promise<void> {
    const body = this.refreshToken ? { refresh_token: this.refreshToken } : {};
    await this.authed(async (headers) => {
      const { error, response } = await this.api.POST("/auth/logout", { body, headers });
      if (error !== undefined) throw problem(response, error);
    });
    this.accessToken = this.refreshToken = this.user = undefined;
  }

  /** Calls with the access token; on `401` renews it once and calls again. */
  private async authed<T>(call: (headers: { authorization: string }) => Promise<T>): Promise<T> {
    if (!this.accessToken) await this.refresh();
    try {
      return await call({ authorization: `Bearer ${this.accessToken}` });
    } catch (e) {
      if (!(e instanceof LatchError) || e.status !== 401) throw e;
      await this.refresh();
      return call({ authorization: `Bearer ${this.accessToken}` });
    }
  }

  private signedIn(data: unknown, error: unknown, response: Response): User {
    if (error !== undefined || !data) throw problem(response, error);
    if (!(typeof data === "object" && "access_token" in data)) {
      throw new LatchError(response.status, "verification_required", "Check your email to finish.");
    }
    const signed = data as SignedIn;
    this.accessToken = signed.access_token;
    if (this.keepRefreshToken && signed.refresh_token) this.refreshToken = signed.refresh_token;
    this.user = signed.user;
    return signed.user;
  }
}

function unwrap<T>(data: T | undefined, error: unknown, response: Response): T {
  if (error !== undefined || data === undefined) throw problem(response, error);
  return data;
}

function problem(response: Response, error: unknown): LatchError {
  const p = (error ?? {}) as Partial<Problem>;
  return new LatchError(response.status, p.code ?? "error", p.detail ?? p.title ?? response.statusText);
}
