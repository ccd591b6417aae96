// The viewer page in a real browser: headless Chromium loads the bundle over HTTP from 127.0.0.1 and shows a
// whole recording, a truncated one (with its warning) and a file that is not a recording (the error box).
// Run by `cargo xtask test` with CI_BUNDLE and CI_RECORDINGS set. Without a Chromium the tests are
// reported as skipped with the reason (scripts/bootstrap-debian.sh installs Debian's `chromium`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { execFile } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, delimiter, extname, join } from "node:path";

const bundle = process.env.CI_BUNDLE;
const recordings = process.env.CI_RECORDINGS;
assert.ok(bundle && recordings, "set CI_BUNDLE and CI_RECORDINGS (cargo xtask test does)");

function findChromium() {
  const names = process.env.CHROME ? [process.env.CHROME] : ["chromium", "chromium-browser", "google-chrome"];
  for (const name of names) {
    const candidates = name.includes("/") ? [name] : (process.env.PATH ?? "").split(delimiter).map((d) => join(d, name));
    for (const c of candidates) {
      try {
        accessSync(c, constants.X_OK);
        return c;
      } catch {}
    }
  }
  return null;
}

const chromium = findChromium();
const skip = chromium ? false : "no Chromium found (set CHROME, or install Debian's chromium: scripts/bootstrap-debian.sh)";
const files = readdirSync(recordings).filter((f) => f.endsWith(".reel")).sort();
const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

// /rec/NAME serves a recording, /cut/N/NAME its first N bytes, anything else a file of the bundle.
function serve() {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    try {
      let body;
      let type = "application/octet-stream";
      const cut = path.match(/^\/cut\/(\d+)\/([^/]+)$/);
      if (cut) {
        body = readFileSync(join(recordings, basename(cut[2]))).subarray(0, Number(cut[1]));
      } else if (path.startsWith("/rec/")) {
        body = readFileSync(join(recordings, basename(path)));
      } else {
        const name = basename(path === "/" ? "index.html" : path);
        body = readFileSync(join(bundle, name));
        type = types[extname(name)] ?? type;
      }
      res.writeHead(200, { "content-type": type });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

// The page's DOM once its scripts have run.
function dumpDom(url) {
  const profile = mkdtempSync(join(tmpdir(), "reel-chromium-"));
  const args = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--user-data-dir=${profile}`,
    "--virtual-time-budget=15000",
    "--dump-dom",
    url,
  ];
  return new Promise((resolve, reject) => {
    execFile(chromium, args, { timeout: 90_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      rmSync(profile, { recursive: true, force: true });
      if (err) reject(new Error(`${chromium} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

test("the page in headless Chromium", { skip }, async (t) => {
  const server = await serve();
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    const name = files[0];
    const size = readFileSync(join(recordings, name)).length;

    await t.test(`shows ${name} whole, without a warning`, async () => {
      const dom = await dumpDom(`${base}/index.html?file=/rec/${name}`);
      assert.match(dom, /class="reel-summary">\d+ records, \d+ entities/);
      assert.match(dom, /<svg/);
      assert.doesNotMatch(dom, /class="reel-warning"/);
      assert.doesNotMatch(dom, /id="error" role="alert" class="shown"/);
    });

    await t.test(`shows ${name} cut mid-record, with where and why reading stopped`, async () => {
      const dom = await dumpDom(`${base}/index.html?file=/cut/${size - 19}/${name}`);
      assert.match(
        dom,
        new RegExp(`class="reel-warning" role="alert">Incomplete recording: reading stopped at byte offset \\d+ of ${size - 19}: truncated recording`),
      );
      assert.match(dom, /class="reel-summary">\d+ records/);
    });

    await t.test(`shows ${name} cut between records (no end marker), with the warning`, async () => {
      const end = size - 16;
      const dom = await dumpDom(`${base}/index.html?file=/cut/${end}/${name}`);
      assert.match(
        dom,
        new RegExp(`class="reel-warning" role="alert">Incomplete recording: reading stopped at byte offset ${end} of ${end}: unfinished recording`),
      );
    });

    await t.test("shows an error for a file that is not a recording", async () => {
      const dom = await dumpDom(`${base}/index.html?file=/index.html`);
      assert.match(dom, /id="error" role="alert" class="shown">Cannot show \/index.html: not a reel recording/);
    });
  } finally {
    server.close();
  }
});
