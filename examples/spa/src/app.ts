// The page: sign in or register, stay signed in across reloads (the refresh cookie), see
// who you are and your sessions, change your address, delete your account, sign out.

import { Latch, LatchError, type User } from "./latch.js";

// Latch's address: `?latch=` on the page's URL (kept for the tab, so that the links in
// Latch's mail open on the same Latch), else the meta tag in index.html.
const params = new URLSearchParams(location.search);
const given = params.get("latch");
if (given) sessionStorage.setItem("latch", given);
const baseUrl =
  given ??
  sessionStorage.getItem("latch") ??
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
// Changing the address and deleting the account ask for the password again first.
const current = $<HTMLInputElement>("current-password");
$("change-email").onclick = () =>
  act(async () => {
    await latch.reauthenticate(current.value);
    await latch.changeEmail($<HTMLInputElement>("new-email").value);
    $("notice").textContent = "Check the new address for a link to confirm it.";
  });
$("delete-account").onclick = () =>
  act(async () => {
    await latch.reauthenticate(current.value);
    await latch.deleteAccount();
    show(undefined);
    $("notice").textContent = "Your account is deleted.";
  });
$("logout").onclick = () =>
  act(async () => {
    await latch.logout();
    show(undefined);
  });

// On load: a `?token=` is the link of an address-change mail, followed first (this page
// is the only one: Latch runs with EMAIL_CHANGE_PATH=/ for it); then signed in again
// through the cookie, else the sign-in form (also when Latch cannot be reached, with the
// reason).
act(async () => {
  const token = params.get("token");
  if (token) {
    const changed = await latch.confirmEmailChange(token);
    $("notice").textContent = `Your address is now ${changed.email}.`;
  }
  try {
    show(await latch.restore());
  } catch (e) {
    show(undefined);
    throw e;
  }
});
