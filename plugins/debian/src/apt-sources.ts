/**
 * The host's apt configuration, read only for defaults: when a recipe names no mirror,
 * suite or keyring, kiln uses what the build host's apt already uses. Both formats apt
 * reads (sources.list(5)): deb822 `.sources` stanzas and one-line `.list` entries.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { endianness } from "node:os";
import { join } from "node:path";

export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
  /** A keyring path; undefined when absent or given inline / as fingerprints. */
  signedBy?: string;
  architectures?: string[];
  /** The file the entry came from. */
  file: string;
}

/** apt's StringToBool false spellings for `Enabled:`. */
const FALSE_WORDS = new Set(["no", "false", "without", "off", "disable"]);

const words = (s: string | undefined): string[] => (s ?? "").split(/\s+/).filter(Boolean);

/** A Signed-By value that names a keyring file; inline keys and fingerprints give undefined. */
function keyringPath(value: string | undefined): string | undefined {
  if (value === undefined || value.includes("\n")) return undefined;
  const first = value.split(/[\s,]+/).find(Boolean);
  return first?.startsWith("/") ? first : undefined;
}

/** deb822 stanzas as maps of lower-cased field name to value (continuations joined by "\n"). */
function deb822Stanzas(text: string): Map<string, string>[] {
  const stanzas: Map<string, string>[] = [];
  let current: Map<string, string> | undefined;
  let last: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    // apt allows comment lines anywhere, even inside a stanza.
    if (line.startsWith("#")) continue;
    if (/^\s*$/.test(line)) {
      current = undefined;
      last = undefined;
      continue;
    }
    if (/^[ \t]/.test(line)) {
      if (current && last !== undefined) {
        // A lone "." stands for an empty line (inline keys use it).
        const cont = line.trim() === "." ? "" : line.trim();
        current.set(last, `${current.get(last)}\n${cont}`);
      }
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    if (!current) {
      current = new Map();
      stanzas.push(current);
    }
    last = line.slice(0, colon).trim().toLowerCase();
    current.set(last, line.slice(colon + 1).trim());
  }
  return stanzas;
}

/**
 * deb822 `.sources` text: one entry per URI of each stanza whose Types include `deb`
 * and which is not `Enabled: no`.
 */
export function parseDeb822Sources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const st of deb822Stanzas(text)) {
    if (!words(st.get("types")).includes("deb")) continue;
    const enabled = st.get("enabled");
    if (enabled !== undefined && FALSE_WORDS.has(enabled.trim().toLowerCase())) continue;
    const suites = words(st.get("suites"));
    const components = words(st.get("components"));
    const signedBy = keyringPath(st.get("signed-by"));
    const architectures = words(st.get("architectures"));
    for (const uri of words(st.get("uris"))) {
      const src: AptSource = { uri, suites: [...suites], components: [...components], file };
      if (signedBy) src.signedBy = signedBy;
      if (architectures.length) src.architectures = [...architectures];
      out.push(src);
    }
  }
  return out;
}

/**
 * One-line `.list` text: `deb [opt=value ...] URI suite [component ...]`. deb-src lines,
 * comments (apt drops everything from `#`) and blank lines are skipped.
 */
export function parseOneLineSources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const hash = raw.indexOf("#");
    const line = (hash < 0 ? raw : raw.slice(0, hash)).trim();
    const m = /^(\S+)\s+(?:\[([^\]]*)\]\s*)?(.*)$/.exec(line);
    if (!m || m[1] !== "deb") continue;
    const [uri, suite, ...components] = words(m[3]);
    if (!uri || !suite) continue;
    const src: AptSource = { uri, suites: [suite], components, file };
    for (const opt of words(m[2])) {
      const eq = opt.indexOf("=");
      if (eq < 0) continue;
      const key = opt.slice(0, eq).toLowerCase();
      const value = opt.slice(eq + 1);
      if (key === "arch") src.architectures = value.split(",").filter(Boolean);
      else if (key === "signed-by") {
        const path = keyringPath(value);
        if (path) src.signedBy = path;
      }
    }
    out.push(src);
  }
  return out;
}

/** apt ignores files in sources.list.d whose names have other characters (apt.conf(5)). */
const PART_NAME = /^[A-Za-z0-9_.-]+\.(list|sources)$/;

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    // A missing or unreadable file just contributes no sources, as for apt.
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "EISDIR") return undefined;
    throw e;
  }
}

/**
 * Every `deb` source of the apt configuration under `root`, in apt's order:
 * etc/apt/sources.list, then sources.list.d's `*.list` and `*.sources` together,
 * sorted by name.
 */
export function readAptSources(root = "/"): AptSource[] {
  const out: AptSource[] = [];
  const main = join(root, "etc/apt/sources.list");
  const mainText = readIfExists(main);
  if (mainText !== undefined) out.push(...parseOneLineSources(mainText, main));
  const dir = join(root, "etc/apt/sources.list.d");
  let names: string[] = [];
  if (existsSync(dir)) names = readdirSync(dir).filter((n) => PART_NAME.test(n)).sort();
  for (const name of names) {
    const path = join(dir, name);
    const text = readIfExists(path);
    if (text === undefined) continue;
    out.push(...(name.endsWith(".sources") ? parseDeb822Sources(text, path) : parseOneLineSources(text, path)));
  }
  return out;
}

/**
 * Mirror, suite, components and keyring of the host's first `deb` source (a cdrom:
 * source is no mirror to build from). The keyring falls back to the
 * debian-archive-keyring package's file when the source names none.
 */
export function hostDebianDefaults(root = "/"): { mirror?: string; suite?: string; components?: string[]; keyring?: string } {
  const first = readAptSources(root).find((s) => !s.uri.startsWith("cdrom:"));
  const fallbackKeyring = join(root, "usr/share/keyrings/debian-archive-keyring.gpg");
  const keyring = first?.signedBy ?? (existsSync(fallbackKeyring) ? fallbackKeyring : undefined);
  const out: { mirror?: string; suite?: string; components?: string[]; keyring?: string } = {};
  if (first) {
    out.mirror = first.uri;
    if (first.suites.length) out.suite = first.suites[0];
    out.components = [...first.components];
  }
  if (keyring) out.keyring = keyring;
  return out;
}

/** Node's process.arch to Debian architecture names, for hosts without dpkg. */
export function debianArchFromNode(arch: string = process.arch): string {
  switch (arch) {
    case "x64":
      return "amd64";
    case "ia32":
      return "i386";
    case "arm":
      return "armhf";
    case "ppc64":
      // Node says ppc64 for both byte orders; Debian's little-endian port is ppc64el.
      return endianness() === "LE" ? "ppc64el" : "ppc64";
    default:
      // arm64, s390x, riscv64, loong64, mips64el are spelled the same.
      return arch;
  }
}

/** The host's Debian architecture: dpkg's answer, else derived from Node's. */
export function hostArchitecture(): string {
  try {
    const out = execFileSync("dpkg", ["--print-architecture"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    if (out) return out;
  } catch {
    // No dpkg on this host (or it failed): Node's view of the CPU is the fallback.
  }
  return debianArchFromNode();
}
