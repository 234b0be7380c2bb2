/**
 * IMAGE_PKGTYPE = "ipk": .ipks from DEPLOY_DIR_IPK, recorded as opkg does on an
 * OpenEmbedded target — `var/lib/opkg/status` (`Status: install user installed` for
 * what IMAGE_INSTALL asked for, `install ok installed` for dependencies,
 * `Installed-Time` = SOURCE_DATE_EPOCH so the image is reproducible) and
 * `var/lib/opkg/info/<pkg>.{control,list,conffiles,preinst,postinst,prerm,postrm}`.
 * opkg's `.list` names files and links, not directories.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { archDir } from "@kiln/package";
import { MAINTAINER_SCRIPTS, type InstalledPackage, type RootfsBackend } from "./backend.js";
import { parseStanzas, stanzaText, type Stanza } from "./control.js";
import { arLocate, openChecked } from "./deb.js";

const STATUS_FIELDS = ["Package", "Version", "Depends", "Recommends", "Provides", "Replaces", "Conflicts"];

const md5 = (path: string) => (existsSync(path) ? createHash("md5").update(readFileSync(path)).digest("hex") : "");

function statusStanza(ip: InstalledPackage, rootfs: string, epoch: number): Stanza {
  const control = parseStanzas(ip.opened.control)[0] ?? [];
  const out: Stanza = control.filter(([k]) => STATUS_FIELDS.includes(k));
  out.push(["Status", ip.resolved.requested ? "install user installed" : "install ok installed"]);
  const arch = control.find(([k]) => k === "Architecture");
  if (arch) out.push(arch);
  if (ip.opened.conffiles.length) out.push(["Conffiles", `\n${ip.opened.conffiles.map((c) => ` ${c} ${md5(join(rootfs, c))}`).join("\n")}`]);
  out.push(["Installed-Time", String(epoch)]);
  return out;
}

export const ipkBackend = (plugin: string): RootfsBackend => ({
  type: "ipk",
  plugin,
  unversionedProvideSatisfies: false,
  scriptArgs: { preinst: ["install"], postinst: ["configure"] },
  scriptEnv: (rootfs) => ({ OPKG_OFFLINE_ROOT: rootfs, IPKG_OFFLINE_ROOT: rootfs }),
  locate: arLocate("ipk", archDir),
  open: (file, p) => openChecked(file, p),
  async writeDatabase(installed, rc) {
    const db = join(rc.rootfs, "var/lib/opkg");
    mkdirSync(join(db, "info"), { recursive: true });
    for (const ip of installed) {
      const info = (suffix: string) => join(db, "info", `${ip.opened.name}.${suffix}`);
      writeFileSync(info("control"), ip.opened.control.replace(/\n*$/, "\n"));
      writeFileSync(info("list"), ip.files.filter((f) => f.type !== "directory").map((f) => `${f.path}\n`).join(""));
      if (ip.opened.conffiles.length) writeFileSync(info("conffiles"), ip.opened.conffiles.map((c) => `${c}\n`).join(""));
      for (const s of MAINTAINER_SCRIPTS) {
        const body = ip.opened.scripts[s];
        if (body) writeFileSync(info(s), body, { mode: 0o755 });
      }
    }
    const sorted = [...installed].sort((a, b) => (a.opened.name < b.opened.name ? -1 : a.opened.name > b.opened.name ? 1 : 0));
    writeFileSync(join(db, "status"), sorted.map((ip) => stanzaText(statusStanza(ip, rc.rootfs, rc.epoch))).join("\n"));
  },
});
