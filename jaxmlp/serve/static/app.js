// jaxmlp serve: draw a digit, send it to the server, show what every neuron answers.
// Every number shown comes from the server (jaxmlp's own forward pass); this file only draws.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const POS = [33, 102, 172]; // w·a > 0 and positive weights: blue
const NEG = [178, 24, 43]; // w·a < 0 and negative weights: red
const STROKE = 11; // pen width in canvas pixels (the canvas is 140 × 140, 5 × MNIST's 28)

// For tests and curious users: how many diagram updates so far, and each one's latency in ms
// (from the first stroke event not yet shown to the updated diagram in the DOM).
// busy: a drawing is waiting to be sent or its answer to arrive.
window.jaxmlp = { updates: 0, latencies: [], last: null, busy: false };

const $ = (id) => document.getElementById(id);
const draw = $("draw");
const pen = draw.getContext("2d", { willReadFrequently: true });
let net = null; // GET /api/network
const circles = []; // circles[l - 1][j]: neuron j of layer l
const edges = []; // edges[g][j][k]: line from neuron j of layer g + 1 to neuron k of layer g + 2
let inputCells = [];
let selected = null;

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function say(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

// ---- the diagram ------------------------------------------------------------------------------------------

function column(n, top, bottom) {
  const step = n > 1 ? Math.min(34, (bottom - top) / (n - 1)) : 0;
  const mid = (top + bottom) / 2;
  return Array.from({ length: n }, (_, j) => mid + (j - (n - 1) / 2) * step);
}

function buildDiagram(sizes) {
  const svg = $("net");
  const layers = sizes.length - 1;
  const xs = Array.from({ length: layers }, (_, i) => 290 + i * (400 / Math.max(1, layers - 1)) * (layers > 1 ? 1 : 0));
  const ys = sizes.slice(1).map((n) => column(n, 30, 530));
  const edgeGroup = el("g", {}, svg);
  const nodeGroup = el("g", {}, svg);
  // the input: 28 × 28 cells
  const grid = el("g", { transform: "translate(12, 200)", "shape-rendering": "crispEdges" }, nodeGroup);
  el("rect", { x: -1, y: -1, width: 142, height: 142, fill: "none", stroke: "#999" }, grid);
  for (let p = 0; p < sizes[0]; p++) {
    inputCells.push(el("rect", { x: (p % 28) * 5, y: Math.floor(p / 28) * 5, width: 5, height: 5, fill: "#000" }, grid));
  }
  el("text", { x: 82, y: 190, "text-anchor": "middle" }, nodeGroup).textContent = `input: ${sizes[0]} pixels`;
  for (let p = 0; p < ys[0].length; p++) { // faint fan from the grid to the first layer, as the video draws it
    el("line", { x1: 153, y1: 270, x2: xs[0] - 14, y2: ys[0][p], stroke: "#ddd", "stroke-width": 0.6 }, edgeGroup);
  }
  for (let g = 0; g + 1 < layers; g++) {
    edges.push(ys[g].map((y0) => ys[g + 1].map((y1) => el("line", {
      x1: xs[g], y1: y0, x2: xs[g + 1], y2: y1, stroke: "#ccc", "stroke-width": 0.5, "stroke-opacity": 0.3,
    }, edgeGroup))));
  }
  const radius = Math.min(13, 0.42 * (ys[0][1] - ys[0][0] || 30));
  for (let l = 1; l <= layers; l++) {
    const last = l === layers;
    const label = last ? "output" : `hidden layer ${l}`;
    el("text", { x: xs[l - 1], y: 16, "text-anchor": "middle" }, nodeGroup).textContent = label;
    circles.push(ys[l - 1].map((y, j) => {
      const c = el("circle", {
        cx: xs[l - 1], cy: y, r: last ? 15 : radius, fill: "#000",
        class: `neuron ${last ? "output" : "hidden"}`, "data-layer": l, "data-index": j, "data-activation": "",
      }, nodeGroup);
      if (last) {
        const t = el("text", { x: xs[l - 1] + 22, y: y + 4, "data-digit": j }, nodeGroup);
        t.textContent = String(j);
        c.label = t;
      } else {
        const show = () => showNeuron(l, j);
        c.addEventListener("pointerenter", show);
        c.addEventListener("click", show);
      }
      return c;
    }));
  }
  const bars = $("bars");
  for (let j = 0; j < sizes[sizes.length - 1]; j++) {
    const row = document.createElement("div");
    row.className = "bar";
    row.innerHTML = `<span>${j}</span><span class="track"><span class="fill"></span></span><span class="value">–</span>`;
    bars.appendChild(row);
  }
}

function grey(value) {
  const v = Math.round(255 * Math.min(1, Math.max(0, value)));
  return `rgb(${v},${v},${v})`;
}

function diverging(t) { // t in [-1, 1] → red … white … blue
  const [r, g, b] = t >= 0 ? POS : NEG;
  const s = Math.min(1, Math.abs(t));
  return [255 + (r - 255) * s, 255 + (g - 255) * s, 255 + (b - 255) * s].map(Math.round);
}

function render(result) {
  paintPixels($("seen"), result.input, 28, 28, (v) => [255 * v, 255 * v, 255 * v]);
  result.input.forEach((v, p) => inputCells[p].setAttribute("fill", grey(v)));
  const last = result.activations.length - 1;
  result.activations.forEach((a, i) => {
    const scale = Math.max(1, ...a.map(Math.abs)); // ReLU/identity activations can exceed 1
    a.forEach((value, j) => {
      const c = circles[i][j];
      c.setAttribute("fill", grey(value / scale));
      c.setAttribute("data-activation", String(value));
      if (i === last) {
        const answer = j === result.digit;
        c.classList.toggle("answer", answer);
        c.label.classList.toggle("answer", answer);
        c.label.textContent = `${j}  ${value.toFixed(2)}`;
      }
    });
  });
  result.contributions.forEach((c, g) => {
    const biggest = Math.max(1e-12, ...c.flat().map(Math.abs));
    c.forEach((row, j) => row.forEach((value, k) => {
      const line = edges[g][j][k];
      const size = Math.abs(value) / biggest;
      line.setAttribute("stroke", `rgb(${(value >= 0 ? POS : NEG).join(",")})`);
      line.setAttribute("stroke-width", (0.3 + 3 * size).toFixed(2));
      line.setAttribute("stroke-opacity", (0.05 + 0.95 * size).toFixed(3));
      line.setAttribute("data-contribution", String(value));
    }));
  });
  const outputs = result.activations[last];
  const top = Math.max(1, ...outputs);
  document.querySelectorAll("#bars .bar").forEach((row, j) => {
    row.classList.toggle("answer", j === result.digit);
    row.querySelector(".fill").style.width = `${(100 * Math.max(0, outputs[j]) / top).toFixed(1)}%`;
    row.querySelector(".value").textContent = outputs[j].toFixed(3);
  });
  $("prediction").textContent = String(result.digit);
  if (selected) showNeuron(...selected);
  window.jaxmlp.last = result;
  window.jaxmlp.updates += 1;
  document.body.dataset.updates = String(window.jaxmlp.updates);
}

function resetDiagram() {
  inputCells.forEach((c) => c.setAttribute("fill", "#000"));
  paintPixels($("seen"), new Array(784).fill(0), 28, 28, () => [0, 0, 0]);
  circles.flat().forEach((c) => { c.setAttribute("fill", "#000"); c.setAttribute("data-activation", ""); c.classList.remove("answer"); });
  edges.flat(2).forEach((line) => { line.setAttribute("stroke", "#ccc"); line.setAttribute("stroke-opacity", 0.3); line.setAttribute("stroke-width", 0.5); });
  document.querySelectorAll("#bars .bar").forEach((row) => { row.classList.remove("answer"); row.querySelector(".fill").style.width = "0"; row.querySelector(".value").textContent = "–"; });
  circles[circles.length - 1].forEach((c, j) => { c.label.textContent = String(j); c.label.classList.remove("answer"); });
  $("prediction").textContent = "–";
}

function paintPixels(canvas, values, width, height, colour) {
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  values.forEach((v, p) => {
    const [r, g, b] = colour(v);
    image.data.set([r, g, b, 255], 4 * p);
  });
  context.putImageData(image, 0, 0);
}

function showNeuron(layer, j) {
  selected = [layer, j];
  document.querySelectorAll("#net .selected").forEach((c) => c.classList.remove("selected"));
  circles[layer - 1][j].classList.add("selected");
  const a = circles[layer - 1][j].getAttribute("data-activation");
  $("detail-title").textContent = `hidden layer ${layer}, neuron ${j}` + (a ? `: a = ${Number(a).toFixed(3)}` : "");
  const signed = (values) => {
    const m = Math.max(1e-12, ...values.map(Math.abs));
    return (v) => diverging(v / m);
  };
  if (layer === 1) {
    const w = net.first_layer_images[j];
    paintPixels($("detail-weights"), w, 28, 28, signed(w));
    $("detail-weights-caption").textContent = "its 784 incoming weights (what it looks for)";
    $("detail-combo-figure").hidden = true;
  } else {
    const w = net.weights[layer - 2].map((row) => row[j]);
    paintPixels($("detail-weights"), w, w.length, 1, signed(w));
    $("detail-weights-caption").textContent = `its ${w.length} incoming weights, from neuron 0 (left) of layer ${layer - 1}`;
    const combo = layer === 2 && net.second_layer_images ? net.second_layer_images[j] : null;
    $("detail-combo-figure").hidden = !combo;
    if (combo) paintPixels($("detail-combo"), combo, 28, 28, signed(combo));
  }
}

// ---- talking to the server ---------------------------------------------------------------------------------

let inFlight = false;
let dirty = false;
let pendingSince = null;

function changed() {
  if (pendingSince === null) pendingSince = performance.now();
  dirty = true;
  window.jaxmlp.busy = true;
  pump();
}

async function pump() {
  if (inFlight || !dirty) return;
  dirty = false;
  inFlight = true;
  const since = pendingSince;
  pendingSince = null;
  try {
    const data = pen.getImageData(0, 0, draw.width, draw.height).data;
    const canvas = new Array(draw.width * draw.height);
    for (let p = 0; p < canvas.length; p++) canvas[p] = data[4 * p];
    render(await api("/api/activations", { canvas }));
    window.jaxmlp.latencies.push(performance.now() - since);
    say("");
  } catch (error) {
    say(error.message, true);
  } finally {
    inFlight = false;
    window.jaxmlp.busy = dirty;
    if (dirty) pump();
  }
}

function clearCanvas() {
  pen.fillStyle = "#000";
  pen.fillRect(0, 0, draw.width, draw.height);
}

function showOnCanvas(values) { // a 28 × 28 input drawn 5 × larger, so you can draw over it
  const small = document.createElement("canvas");
  paintPixels(small, values, 28, 28, (v) => [255 * v, 255 * v, 255 * v]);
  pen.imageSmoothingEnabled = false;
  pen.drawImage(small, 0, 0, draw.width, draw.height);
}

function point(event) {
  const box = draw.getBoundingClientRect();
  return [(event.clientX - box.left) * draw.width / box.width, (event.clientY - box.top) * draw.height / box.height];
}

let last = null;
draw.addEventListener("pointerdown", (event) => {
  draw.setPointerCapture(event.pointerId);
  last = point(event);
  pen.fillStyle = "#fff";
  pen.beginPath();
  pen.arc(last[0], last[1], STROKE / 2, 0, 2 * Math.PI);
  pen.fill();
  changed();
});
draw.addEventListener("pointermove", (event) => {
  if (last === null) return;
  const next = point(event);
  pen.strokeStyle = "#fff";
  pen.lineWidth = STROKE;
  pen.lineCap = "round";
  pen.beginPath();
  pen.moveTo(...last);
  pen.lineTo(...next);
  pen.stroke();
  last = next;
  changed();
});
for (const name of ["pointerup", "pointercancel"]) draw.addEventListener(name, () => { last = null; });

$("clear").addEventListener("click", () => { clearCanvas(); resetDiagram(); say("Draw a digit, large, in the middle."); });
$("random").addEventListener("click", async () => {
  try {
    const result = await api("/api/test-digit");
    clearCanvas();
    showOnCanvas(result.input);
    render(result);
    say(`MNIST test image #${result.index}, labelled ${result.label}.`);
  } catch (error) { say(error.message, true); }
});
$("noise").addEventListener("click", async () => {
  const x = Array.from({ length: 784 }, () => Math.random());
  try {
    const result = await api("/api/activations", { x });
    clearCanvas();
    showOnCanvas(x);
    render(result);
    const top = Math.max(...result.activations[result.activations.length - 1]);
    say(`Uniform noise, no digit at all: the network still answers ${result.digit} (top output ${top.toFixed(2)}).`);
  } catch (error) { say(error.message, true); }
});

async function start() {
  clearCanvas();
  try {
    net = await api("/api/network");
  } catch (error) {
    say(`cannot reach jaxmlp serve: ${error.message}`, true);
    return;
  }
  const s = net.summary || {};
  const parts = [net.sizes.join("-"), `${net.activation} hidden, ${net.output} output`];
  if (s.preset) parts.push(`preset ${s.preset}`);
  if (s.test_accuracy !== undefined) parts.push(`test accuracy ${(100 * s.test_accuracy).toFixed(2)}% after ${s.epochs} epochs`);
  if (s.file) parts.push(s.file);
  $("summary").textContent = parts.join(" · ");
  $("sizes").textContent = `(${net.sizes.join(" → ")})`;
  $("random").disabled = !net.has_test_set;
  if (!net.has_test_set) $("random").title = "jaxmlp serve could not load the MNIST test set";
  buildDiagram(net.sizes);
  resetDiagram();
  document.body.dataset.ready = "1";
}

start();
