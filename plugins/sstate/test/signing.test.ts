/** SSTATE_SIG_KEY signs new objects; SSTATE_VERIFY_SIG = "1" uses only objects gpgv accepts. */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { build, writeLayer } from "./layer.js";

let home: string;
let other: string;
let fpr: string;
let root: string;

function newKey(dir: string): string {
  execFileSync("gpg", ["--batch", "--passphrase", "", "--quick-gen-key", "kiln sstate test", "ed25519", "sign", "never"], { env: { ...process.env, GNUPGHOME: dir }, stdio: "ignore" });
  const colons = execFileSync("gpg", ["--batch", "--with-colons", "--list-keys"], { env: { ...process.env, GNUPGHOME: dir }, encoding: "utf8" });
  return /^fpr:+([0-9A-F]+):/m.exec(colons)?.[1] ?? "";
}

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "kiln-gpg-"));
  other = mkdtempSync(join(tmpdir(), "kiln-gpg-other-"));
  fpr = newKey(home);
  newKey(other);
}, 60_000);
afterAll(() => {
  for (const d of [home, other]) {
    // the agent gpg started for this home must not outlive the tests
    try {
      execFileSync("gpgconf", ["--kill", "gpg-agent"], { env: { ...process.env, GNUPGHOME: d }, stdio: "ignore" });
    } catch {
      // no agent
    }
    rmSync(d, { recursive: true, force: true });
  }
});
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "kiln-sstate-sig-"));
  writeLayer(root, `SSTATE_SIG_KEY = "${fpr}"\nSSTATE_VERIFY_SIG = "1"`);
  return () => rmSync(root, { recursive: true, force: true });
});

const env = () => ({ GNUPGHOME: home, BB_ENV_PASSTHROUGH_ADDITIONS: "GNUPGHOME" });
const object = () => {
  const dir = join(root, "build", "sstate-cache");
  const f = readdirSync(dir, { recursive: true }).map(String).find((x) => x.endsWith(".tar.zst"));
  return join(dir, f as string);
};

describe("signed shared state", () => {
  it("signs each new object, and restores it when the signature verifies", async () => {
    expect((await build(root, "lib", env())).done.failed).toBe(0);
    const obj = object();
    expect(existsSync(`${obj}.sig`)).toBe(true);
    execFileSync("gpgv", ["--keyring", join(home, "pubring.kbx"), `${obj}.sig`, obj], { stdio: "ignore" });
    rmSync(join(root, "build", "tmp"), { recursive: true, force: true });
    const again = await build(root, "lib", env());
    expect(again.started).toEqual(["lib:do_populate_sysroot_setscene"]);
  });

  it.each([
    ["no signature", (obj: string) => rmSync(`${obj}.sig`)],
    [
      "a signature by another key",
      (obj: string) => execFileSync("gpg", ["--batch", "--yes", "--detach-sign", "--output", `${obj}.sig`, obj], { env: { ...process.env, GNUPGHOME: other }, stdio: "ignore" }),
    ],
    ["a damaged signature", (obj: string) => writeFileSync(`${obj}.sig`, "not a signature")],
  ])("refuses an object with %s and builds for real", async (_what, spoil) => {
    expect((await build(root, "lib", env())).done.failed).toBe(0);
    const obj = object();
    spoil(obj);
    rmSync(join(root, "build", "tmp"), { recursive: true, force: true });
    const again = await build(root, "lib", env());
    expect(again.done.failed).toBe(0);
    expect(again.started).toContain("lib:do_compile");
    expect(again.warnings.join("\n")).toMatch(/do_populate_sysroot_setscene failed/);
    expect(existsSync(`${obj}.bad`)).toBe(true);
  });
});
