/** Plugins every CLI build gets (the URL schemes core's fetcher needs); KILN_PLUGINS adds more. */
export const DEFAULT_PLUGINS = ["@kiln/fetch-file", "@kiln/fetch-http", "@kiln/mirrors", "@kiln/fetch-git"];
