// The demo's virtual devices: what the virtual printer printed, and the scale's weight and the printer's
// paper, set by the presenter. Polls /sim/devices every two seconds (a demo page, not a live screen).

const $ = (id) => document.getElementById(id);
let shown = "";

async function post(url, body) {
  const answer = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!answer.ok) throw new Error((await answer.json()).detail || answer.statusText);
}

function render(state) {
  if (state.scale) $("scale-path").textContent = `Puerto serie virtual: ${state.scale.path} · ${state.scale.grams} g`;
  if (!state.printer) return;
  const p = state.printer;
  $("printer-port").textContent = `127.0.0.1:${p.port}` + (p.paper_out ? " · SIN PAPEL" : "") + (p.cover_open ? " · TAPA ABIERTA" : "");
  const key = p.jobs.map((j) => j.id).join(",");
  if (key === shown) return;
  shown = key;
  const jobs = $("jobs");
  jobs.replaceChildren();
  for (const job of [...p.jobs].reverse()) {
    const figure = document.createElement("figure");
    figure.className = "job";
    const img = document.createElement("img");
    img.src = `/sim/devices/printer/${job.id}/png`;
    img.alt = job.text;
    const caption = document.createElement("figcaption");
    caption.textContent = `Trabajo ${job.id} · ${new Date(job.received_at).toLocaleTimeString("es-CL")}` +
      (job.drawer_kicks ? " · abrió el cajón" : "");
    figure.append(img, caption);
    jobs.append(figure);
  }
}

async function refresh() {
  try {
    const answer = await fetch("/sim/devices");
    if (!answer.ok) throw new Error("los dispositivos virtuales no están corriendo (storehub serve --simulators)");
    render(await answer.json());
    $("error").textContent = "";
  } catch (err) {
    $("error").textContent = String(err.message || err);
  }
}

$("scale-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  await post("/sim/devices/scale", { grams: Number($("grams").value), motion: $("motion").checked }).catch((e) => ($("error").textContent = e.message));
  refresh();
});
$("printer-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  await post("/sim/devices/printer", { paper_out: $("paper-out").checked, cover_open: $("cover-open").checked }).catch((e) => ($("error").textContent = e.message));
  refresh();
});
refresh();
setInterval(refresh, 2000);
