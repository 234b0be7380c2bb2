/** @kiln/core public API. */
export * from "./errors.js";
export { DataStore, setDefaultInlineScope } from "./data/datastore.js";
export type { Expansion, GetOptions, HistoryEvent, SetOptions } from "./data/datastore.js";
export { expandKeys } from "./data/expand-keys.js";
export { parseConfFile, parseRecipeFile, finalize, listTasks, varsFromFile, ParseSession } from "./parse/recipe.js";
export { parseText } from "./parse/parser.js";
export type { Statement, Syntax } from "./parse/ast.js";
export { clearFileCache } from "./parse/files.js";
export { vercmp, splitVersion } from "./util/version.js";
export { createKilnJsApi, defaultKilnJsApi, type KilnJsApi, type MetadataLogger } from "./js/kiln-api.js";
export { buildScope, setKilnApi } from "./js/functions.js";
export { utils } from "./js/utils.js";
