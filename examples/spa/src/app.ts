// The page: sign in or register, stay signed in across reloads (the refresh cookie), see
// who you are and your sessions, sign out.

import { Latch, LatchError, type User } from "./latch.js";

// Latch's address: `?latch=` on the page's URL, else the meta tag in index.html.
const baseUrl =
  new URLSearchParams(location.search).get("latch") ??
  document.querySelector<HTMLMetaElement>('meta[name="latch-url"]')?.content ??
  "http://localhost:8080";
const latch = new Latch({ baseUrl });
(window as unknown as { latch: Latch }).latch = latch;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const email = $<HTMLInputElement>("email");
const password = $<HTMLInputElement>("password");

function show(user: User | undefined, note = "") {
  $("status").textContent = user ? `Signed in as ${user.email}` : "Signed out";
  $("status").dataset.state = user ? "signed-in" : "signed-out";
  $("signed-out").hidden = !!user;
  $("signed-in").hidden = !user;
  $("error").textContent = note;
}

function failed(e: unknown) {
  const message = e instanceof LatchError ? `${e.code}: ${e.message}` : `Latch is unreachable (${e})`;
  $("error").textContent = message;
  $("error").dataset.code = e instanceof LatchError ? e.code : "network";
}

async function act(run: () => Promise<unknown>) {
  $("error").textContent = "";
  delete $("error").dataset.code;
  try {
    await run();
  } catch (e) {
    failed(e);
  }
  $("busy").dataset.done = String(Number($("busy").dataset.done ?? 0) + 1);
}

$("register").onclick = () => act(async () => show(await latch.register(email.value, password.value)));
$("login").onclick = () => act(async () => show(await latch.login(email.value, password.value)));
$("me").onclick = () =>
  act(async () => {
    const user = await latch.me();
    const sessions = await latch.sessions();
    show(user);
    $("sessions").textContent = `${sessions.length} active session(s)`;
  });
$("logout").onclick = () =>
  act(async () => {
    await latch.logout();
    show(undefined);
  });

// On load: signed in again through the cookie, else the sign-in form (also when Latch
// cannot be reached, with the reason).
act(async () => {
  try {
    show(await latch.restore());
  } catch (e) {
    show(undefined);
    throw e;
  }
});
