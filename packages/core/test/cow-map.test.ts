/** CowMap: forks share frozen layers, overlays look at a live map for a moment; neither leaks writes. */
import { describe, expect, it } from "vitest";
import { CowMap } from "../src/data/cow-map.js";

const sorted = (s: Iterable<string>) => [...s].sort();

describe("CowMap", () => {
  it("a fork sees what was there, and neither side sees the other's writes after", () => {
    const a = new CowMap<number>();
    a.set("x", 1);
    const b = a.fork();
    a.set("y", 2);
    b.set("z", 3);
    b.delete("x");
    expect([a.get("x"), a.get("y"), a.get("z")]).toEqual([1, 2, undefined]);
    expect([b.get("x"), b.get("y"), b.get("z")]).toEqual([undefined, undefined, 3]);
    expect(sorted(a.keys())).toEqual(["x", "y"]);
    expect(sorted(b.keys())).toEqual(["z"]);
  });

  it("an overlay reads the live map, keeps its writes to itself, and leaves no stale key list behind", () => {
    const base = new CowMap<number>();
    base.set("old", 0);
    const live = base.fork();
    live.set("x", 1);
    const o = live.overlay();
    o.set("y", 2);
    o.delete("x");
    expect([o.get("old"), o.get("x"), o.get("y")]).toEqual([0, undefined, 2]);
    expect(sorted(o.keys())).toEqual(["old", "y"]);
    // a fork of the overlay (inline code copying its store) sees the overlay's state
    const f = o.fork();
    expect(sorted(f.keys())).toEqual(["old", "y"]);
    expect([live.get("y"), live.get("x")]).toEqual([undefined, 1]);
    // the live map goes on: its keys, and those of a copy made now, are current
    live.set("later", 3);
    expect(sorted(live.keys())).toEqual(["later", "old", "x"]);
    expect(sorted(live.fork().keys())).toEqual(["later", "old", "x"]);
  });

  it("an overlay of a map with nothing of its own still never shares the live map as a layer", () => {
    const live = new CowMap<number>();
    const o = live.overlay();
    const child = o.fork();
    live.set("after", 1);
    expect(sorted(live.keys())).toEqual(["after"]);
    expect(live.fork().get("after")).toBe(1);
    expect(child.get("before")).toBeUndefined();
  });
});
