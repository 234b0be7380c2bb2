/**
 * Signed shared state: with SSTATE_SIG_KEY set, each new object gets a detached GPG
 * signature (`.sig`, made with `gpg`); with SSTATE_VERIFY_SIG = "1" an object is
 * used only when `gpgv` accepts its signature against SSTATE_SIG_KEYRING (default:
 * the keyring of GNUPGHOME). The GNUPGHOME used is the variable's, else the process's.
 */
import { loadExeca } from "@kiln/core";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { DataStore } from "@kiln/core";
import { KilnError } from "@kiln/core";

function gnupgHome(d: DataStore): string | undefined {
  const v = d.getVar("GNUPGHOME") ?? process.env.GNUPGHOME;
  return v ? String(v) : undefined;
}

export function signingKey(d: DataStore): string | undefined {
  const k = String(d.getVar("SSTATE_SIG_KEY") ?? "").trim();
  return k || undefined;
}

export function mustVerify(d: DataStore): boolean {
  return String(d.getVar("SSTATE_VERIFY_SIG") ?? "") === "1";
}

/** Write `${file}.sig`: a detached, binary signature by `key`. */
export async function sign(file: string, sigFile: string, key: string, d: DataStore): Promise<void> {
  const home = gnupgHome(d);
  const r = await (await loadExeca())("gpg", ["--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", String(d.getVar("SSTATE_SIG_PASSPHRASE") ?? ""), "--local-user", key, "--detach-sign", "--output", sigFile, file], {
    env: home ? { GNUPGHOME: home } : {},
    reject: false,
  });
  if (r.exitCode !== 0) throw new KilnError("FATAL", `gpg could not sign ${file} with ${key}: ${r.stderr.trim()}`);
}

/** Throws unless gpgv accepts `${file}.sig`. */
export async function verify(file: string, d: DataStore): Promise<void> {
  const sig = `${file}.sig`;
  if (!existsSync(sig)) throw new KilnError("FATAL", `sstate object ${file} has no signature and SSTATE_VERIFY_SIG is set`);
  const home = gnupgHome(d);
  const keyring = String(d.getVar("SSTATE_SIG_KEYRING") ?? "") || (home ? join(home, "pubring.kbx") : "");
  const args = keyring ? ["--keyring", keyring, sig, file] : [sig, file];
  const r = await (await loadExeca())("gpgv", args, { env: home ? { GNUPGHOME: home } : {}, reject: false });
  if (r.exitCode !== 0) throw new KilnError("FATAL", `the signature of sstate object ${file} does not verify: ${r.stderr.trim().split("\n").at(-1)}`);
}
