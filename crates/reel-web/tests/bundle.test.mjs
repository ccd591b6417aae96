// Loads the built web bundle (wasm-bindgen --target web output) in node and exercises it on real recordings.
// Run by `cargo xtask test`: CI_BUNDLE is the bundle directory, CI_RECORDINGS a directory of recordings
// written by the Python examples through the wheel.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const bundle = process.env.CI_BUNDLE;
const recordings = process.env.CI_RECORDINGS;
assert.ok(bundle && recordings, "set CI_BUNDLE and CI_RECORDINGS (cargo xtask test does)");

const viewer = await import(pathToFileURL(join(bundle, "reel_web.js")).href);
await viewer.default({ module_or_path: readFileSync(join(bundle, "reel_web_bg.wasm")) });

const files = readdirSync(recordings).filter((f) => f.endsWith(".reel")).sort();

test("there are real recordings to show", () => {
  assert.ok(files.length >= 2, `expected recordings in ${recordings}, found ${files}`);
});

test("the page and its script are in the bundle", () => {
  const html = readFileSync(join(bundle, "index.html"), "utf8");
  assert.match(html, /<script type="module" src="\.\/main\.js">/);
  assert.match(readFileSync(join(bundle, "main.js"), "utf8"), /from "\.\/reel_web\.js"/);
});

for (const name of files) {
  test(`renders ${name}`, () => {
    const bytes = readFileSync(join(recordings, name));
    const summary = JSON.parse(viewer.summaryJson(bytes));
    assert.ok(summary.records > 0);
    const html = viewer.render(bytes);
    assert.match(html, new RegExp(`${summary.records} records, ${summary.entities.length} entities`));
    for (const e of summary.entities) {
      assert.ok(html.includes(`<h2>${e.entity}</h2>`), `no section for ${e.entity}`);
    }
    const plots = summary.entities.filter((e) => e.scalars > 0).length;
    assert.equal((html.match(/<svg/g) || []).length, plots);
  });

  test(`shows a truncated and a corrupted ${name} up to where it stopped, and says so`, () => {
    const bytes = readFileSync(join(recordings, name));
    const whole = JSON.parse(viewer.summaryJson(bytes));
    assert.equal(whole.stopped, null);
    assert.ok(!viewer.render(bytes).includes("reel-warning"));

    // The last 16 bytes are the end marker; cut 3 bytes into the last record before it.
    const end = bytes.length - 16;
    const cut = bytes.subarray(0, end - 3);
    const partial = JSON.parse(viewer.summaryJson(cut));
    assert.equal(partial.records, whole.records - 1, "every record before the cut is read");
    assert.match(partial.stopped.reason, /^truncated recording/);
    const html = viewer.render(cut);
    assert.match(
      html,
      new RegExp(`class="reel-warning" role="alert">Incomplete recording: reading stopped at byte offset ${partial.stopped.offset} of ${cut.length}: truncated recording`),
    );
    assert.match(html, new RegExp(`${partial.records} records`));

    // Cut exactly between records (a writer that never finished): every record, and the warning.
    const unfinished = JSON.parse(viewer.summaryJson(bytes.subarray(0, end)));
    assert.equal(unfinished.records, whole.records);
    assert.equal(unfinished.stopped.offset, end);
    assert.match(viewer.render(bytes.subarray(0, end)), new RegExp(`reading stopped at byte offset ${end} of ${end}: unfinished recording`));

    const bad = Uint8Array.from(bytes);
    bad[end - 1] ^= 0xff;
    const corrupted = JSON.parse(viewer.summaryJson(bad));
    assert.equal(corrupted.stopped.offset, partial.stopped.offset, "the same last record");
    assert.match(viewer.render(bad), /reel-warning.*corrupted record at byte offset \d+/);
  });

  test(`refuses ${name} cut inside its header`, () => {
    const bytes = readFileSync(join(recordings, name));
    assert.throws(() => viewer.render(bytes.subarray(0, 6)), /truncated recording.*byte offset 0/);
  });
}

test("refuses a file that is not a recording", () => {
  assert.throws(() => viewer.render(new TextEncoder().encode("<html></html>")), /not a reel recording/);
});

test("reports its version", () => {
  assert.match(viewer.version(), /^\d+\.\d+\.\d+/);
});
