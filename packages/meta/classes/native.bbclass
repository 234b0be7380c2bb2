# native: a recipe built to run on the build host. `BBCLASSEXTEND = "native"` makes
# one from any recipe (kiln's parser names the copy ${PN}-native, as BitBake does,
# and inherits this class into it); a recipe may also inherit it itself.
#
# kiln's base layer does the part of OpenEmbedded's class that decides what is
# built: the class-native override, no packages (nor packaging tasks: nopackages.bbclass),
# not part of world, and build-time
# names mapped to their -native forms (DEPENDS and PROVIDES; as OpenEmbedded's
# native_filter: `foo` -> `foo-native`, `foo-cross-x` -> `foo-native-x`, names that
# already end in -native stay). Toolchain and install-path settings for the build
# host belong to a distro layer.

inherit nopackages

CLASSOVERRIDE = "class-native"
PACKAGES = ""
PACKAGES_DYNAMIC = ""
EXCLUDE_FROM_WORLD = "1"

jsdef native_map_names(d, name, selfref) {
    const pn = String(d.getVar("PN") ?? "");
    const bpn = String(d.getVar("BPN") ?? "");
    const out = [];
    // names only, as bb.utils.explode_deps reads them: version constraints dropped
    const names = String(d.getVar(name) ?? "").replace(/\([^)]*\)/g, " ").split(" ").filter(Boolean);
    for (const dep of names) {
        let mapped;
        if (dep === pn) {
            if (!selfref) continue;
            mapped = dep;
        } else if (dep.includes("-cross-")) mapped = dep.replace("-cross", "-native");
        else if (dep.endsWith("-native")) mapped = dep;
        else mapped = `${dep.split(pn).join(bpn)}-native`;
        if (!out.includes(mapped)) out.push(mapped);
    }
    return out.join(" ");
}

# as OpenEmbedded's native_virtclass_handler: only for the -native variant BBCLASSEXTEND
# makes (a recipe that inherits native itself names its dependencies as they are); the
# variant drops a DEPENDS on itself (python3 DEPENDS on python3-native, which would
# otherwise depend on itself)
js __anonymous () {
    const pn = String(d.getVar("PN") ?? "");
    if (!pn.endsWith("-native") || !String(d.getVar("BBCLASSEXTEND") ?? "").split(" ").includes("native")) return;
    d.setVar("DEPENDS", native_map_names(d, "DEPENDS", false));
    d.setVar("PROVIDES", native_map_names(d, "PROVIDES", true));
}
