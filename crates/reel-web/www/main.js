// The viewer page: loads the wasm module, then renders a recording chosen by the user or given as ?file=URL.
// Every failure (the module, the fetch, a bad recording) is shown in #error: the page is never left blank.
import init, { render, version } from "./reel_web.js";

const status = document.getElementById("status");
const errorBox = document.getElementById("error");
const view = document.getElementById("view");

function showError(message) {
  errorBox.textContent = message;
  errorBox.classList.add("shown");
  view.innerHTML = "";
  status.textContent = "";
}

function show(name, bytes) {
  try {
    view.innerHTML = render(bytes);
    errorBox.classList.remove("shown");
    status.textContent = name;
  } catch (e) {
    showError(`Cannot show ${name}: ${e.message ?? e}`);
  }
}

async function main() {
  try {
    await init();
  } catch (e) {
    showError(`The viewer could not load its WebAssembly module: ${e.message ?? e}`);
    return;
  }
  status.textContent = `reel viewer ${version()}: choose a recording.`;
  document.getElementById("file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (file) show(file.name, new Uint8Array(await file.arrayBuffer()));
  });
  const url = new URLSearchParams(location.search).get("file");
  if (url) {
    try {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
      show(url, new Uint8Array(await response.arrayBuffer()));
    } catch (e) {
      showError(`Cannot load ${url}: ${e.message ?? e}`);
    }
  }
}

main();
