# native: a recipe built to run on the build host. `BBCLASSEXTEND = "native"` makes
# one from any recipe (kiln's parser names the copy ${PN}-native, as BitBake does,
# and inherits this class into it); a recipe may also inherit it itself.
#
# kiln's base layer does the part of OpenEmbedded's class that decides what is
# built: the class-native override, no packages, not part of world, and build-time
# names mapped to their -native forms (DEPENDS and PROVIDES; as OpenEmbedded's
# native_filter: `foo` -> `foo-native`, `foo-cross-x` -> `foo-native-x`, names that
# already end in -native stay). Toolchain and install-path settings for the build
# host belong to a distro layer.

CLASSOVERRIDE = "class-native"
PACKAGES = ""
PACKAGES_DYNAMIC = ""
EXCLUDE_FROM_WORLD = "1"

jsdef native_map_names(d, name) {
    const pn = String(d.getVar("PN") ?? "");
    const bpn = String(d.getVar("BPN") ?? "");
    const out = [];
    for (const dep of String(d.getVar(name) ?? "").split(" ").filter(Boolean)) {
        let mapped = dep;
        if (dep === pn || dep.endsWith("-native")) mapped = dep;
        else if (dep.includes("-cross-")) mapped = dep.replace("-cross", "-native");
        else mapped = `${dep.replace(pn, bpn)}-native`;
        if (!out.includes(mapped)) out.push(mapped);
    }
    return out.join(" ");
}

js __anonymous () {
    for (const name of ["DEPENDS", "PROVIDES"]) d.setVar(name, native_map_names(d, name));
}
