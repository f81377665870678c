// The graph of one or several series: median per revision, min–max band, alerts' suspect ranges, the
// commits their bisection probed (triangles: red bad, green good, grey skipped) and culprits (dashed red),
// and where the machines changed (dashed grey: a machine upgraded, or a new machine began measuring).
// Data comes from /series/{id}/data, downsampled on the server (min/max buckets); zooming or panning
// re-fetches the visible range at full resolution. Everything from the server is set as text, never as markup.
(function () {
  "use strict";
  const el = document.getElementById("chart");
  if (!el || typeof uPlot === "undefined") return;
  const ids = JSON.parse(el.dataset.series || "[]");
  const tooltip = document.getElementById("chart-tooltip");
  const status = document.getElementById("chart-status");
  const title = document.getElementById("graph-title");
  const COLORS = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989"];
  let plot = null, loaded = [], full = null, fetchTimer = null, generation = 0, dragX = null, applying = false;
  let shown = [null, null];  // the x range whose data is loaded: a scale change to the same range fetches nothing

  function maxPoints() { return Math.max(400, Math.min(20000, Math.round(el.clientWidth))); }  // a bucket (its min and max) per 2 px

  async function fetchSeries(id, start, end) {
    const params = new URLSearchParams({ max_points: String(maxPoints()) });
    if (start != null) params.set("start", String(Math.max(0, Math.floor(start))));
    if (end != null) params.set("end", String(Math.max(0, Math.ceil(end))));
    const answer = await fetch("/series/" + encodeURIComponent(id) + "/data?" + params, { credentials: "same-origin" });
    const body = await answer.json();
    if (!answer.ok) throw new Error(body.error ? body.error.message : answer.statusText);
    return body;
  }

  // One x axis for all series: the union of their positions; a series without a point there gets null.
  function align(parts) {
    const xs = Array.from(new Set(parts.flatMap((p) => p.points.position))).sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    const columns = [xs];
    const meta = [];
    for (const p of parts) {
      const med = new Array(xs.length).fill(null), lo = med.slice(), hi = med.slice();
      const rows = new Array(xs.length).fill(-1);
      p.points.position.forEach((x, k) => {
        const i = index.get(x);
        med[i] = p.points.median[k]; lo[i] = p.points.min[k]; hi[i] = p.points.max[k]; rows[i] = k;
      });
      columns.push(med, lo, hi);
      meta.push(rows);
    }
    return { columns, meta };
  }

  function label(s) {
    return s.benchmark + " · " + s.metric + " · " + s.machine_class + (s.configuration ? " (" + s.configuration + ")" : "");
  }

  function seriesOptions(parts) {
    const out = [{ label: "position" }];
    parts.forEach((p, i) => {
      const color = COLORS[i % COLORS.length];
      // uPlot shows the median's points by itself once they are sparse enough to tell apart.
      out.push({ label: label(p.series) + " [" + p.series.unit + "]", stroke: color, width: 1.5, spanGaps: true });
      out.push({ label: "min", stroke: color + "55", width: 0.5, spanGaps: true, points: { show: false } });
      out.push({ label: "max", stroke: color + "55", width: 0.5, spanGaps: true, points: { show: false } });
    });
    return out;
  }

  function drawAlerts(u) {
    const ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
    ctx.save();
    for (const p of loaded) {
      for (const a of p.alerts) {
        const x0 = u.valToPos(a.last_good_position, "x", true), x1 = u.valToPos(a.first_bad_position, "x", true);
        if (x1 < u.bbox.left || x0 > u.bbox.left + u.bbox.width) continue;
        ctx.fillStyle = a.kind === "improvement" ? "rgba(26,127,55,0.15)" : "rgba(209,36,47,0.15)";
        ctx.fillRect(x0, top, Math.max(2, x1 - x0), height);
        ctx.fillStyle = a.kind === "improvement" ? "#1a7f37" : "#d1242f";
        ctx.fillRect(x1 - 1, top, 2, height);
      }
    }
    for (const p of loaded) {
      for (const a of p.alerts) {
        for (const c of a.culprits || []) {
          if (c.position != null) dashed(u, c.position, "#d1242f", "culprit " + c.commit.slice(0, 8));
        }
        for (const probe of a.probes || []) {
          if (probe.position == null) continue;
          const x = u.valToPos(probe.position, "x", true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
          ctx.fillStyle = VERDICT_COLORS[probe.verdict] || "#6e7781";
          const y = top + height - 2;
          ctx.beginPath();
          ctx.moveTo(x, y - 9); ctx.lineTo(x - 5, y); ctx.lineTo(x + 5, y); ctx.closePath();
          ctx.fill();
        }
      }
      for (const m of p.machine_changes || []) dashed(u, m.position, "#6e7781", m.kind + ": " + m.machine);
      for (const g of p.generations || []) {
        if (g.boundary_position != null) dashed(u, g.boundary_position, "#8250df", "generation " + g.generation);
      }
    }
    ctx.restore();
  }

  const VERDICT_COLORS = { bad: "#d1242f", good: "#1a7f37" };

  function dashed(u, position, color, text) {
    const x = u.valToPos(position, "x", true);
    if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5;
    ctx.setLineDash([5, 4]);
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    ctx.fillStyle = color;
    ctx.font = "11px sans-serif";
    ctx.fillText(text, x + 3, u.bbox.top + 12);
    ctx.restore();
  }

  // The same marks as a list under the chart: readable without hovering, and each one a link.
  function listMarks(parts) {
    const list = document.getElementById("chart-marks");
    if (!list) return;
    list.replaceChildren();
    const item = (text, href) => {
      const li = document.createElement("li");
      if (href) {
        const link = document.createElement("a");
        link.href = href;
        link.textContent = text;
        li.append(link);
      } else li.textContent = text;
      list.append(li);
      return li;
    };
    for (const p of parts) {
      for (const m of p.machine_changes || []) {
        const what = Object.entries(m.changed).map(([k, v]) => k + " " + (v.from == null ? "" : v.from + " → ") + v.to);
        item(m.kind + " at #" + m.position + ": " + m.machine + " (" + what.join(", ") + ")").className = "mark-machine";
      }
      for (const g of p.generations || []) {
        const factor = g.state === "applied"
          ? "values before it × " + g.factor.toFixed(4) + " [" + g.low.toFixed(4) + ", " + g.high.toFixed(4) + "]"
          : g.state + (g.more_revisions ? ": about " + g.more_revisions + " more baseline revisions" : ": " + g.reason);
        item("machine generation " + g.generation + " (after " + g.previous + ")" +
          (g.boundary_position != null ? " at #" + g.boundary_position : "") + ": " + factor).className = "mark-generation";
      }
      for (const a of p.alerts) {
        if (a.created_by) item("alert " + a.id + " (" + a.kind + ") created by " + a.created_by + ", by hand").className = "mark-created-by";
        for (const c of a.culprits || []) item("culprit of alert " + a.id + ": " + c.commit.slice(0, 12), "/revision/" + encodeURIComponent(c.commit)).className = "mark-culprit";
        const probes = (a.probes || []).map((q) => q.commit.slice(0, 8) + " " + q.verdict + " (n=" + q.n_samples + ")");
        if (probes.length) item("bisection of alert " + a.id + ": " + probes.join(", ")).className = "mark-probes";
      }
    }
    list.hidden = !list.children.length;
  }

  function pointAt(u, idx) {
    for (let s = 0; s < loaded.length; s++) {
      const row = full.meta[s][idx];
      if (row >= 0) return { part: loaded[s], row: row };
    }
    return null;
  }

  function showTooltip(u) {
    const idx = u.cursor.idx;
    if (idx == null) { tooltip.hidden = true; return; }
    const hit = pointAt(u, idx);
    if (!hit) { tooltip.hidden = true; return; }
    const pts = hit.part.points, k = hit.row;
    tooltip.replaceChildren();
    const lines = [
      ["revision", pts.revision[k].slice(0, 12) + "  (#" + pts.position[k] + ")"],
      ["author", pts.author[k]],
      ["subject", pts.subject[k]],
      ["value", fmt(pts.median[k]) + " " + hit.part.series.unit + "  [" + fmt(pts.min[k]) + " – " + fmt(pts.max[k]) + "], n=" + pts.n[k]],
    ];
    for (const [name, value] of lines) {
      const row = document.createElement("div");
      row.className = "tt-" + name;
      const b = document.createElement("b");
      b.textContent = name + ": ";
      row.append(b, document.createTextNode(value));
      tooltip.append(row);
    }
    const left = u.valToPos(u.data[0][idx], "x") + u.over.offsetLeft + 12;
    tooltip.style.left = (el.offsetLeft + Math.min(left, el.clientWidth - 260)) + "px";
    tooltip.style.top = (el.offsetTop + u.over.offsetTop + 10) + "px";
    tooltip.hidden = false;
    tooltip.dataset.revision = pts.revision[k];
  }

  function fmt(v) { return v == null ? "–" : Number(v).toPrecision(5); }

  function build(parts) {
    loaded = parts;
    full = align(parts);
    const opts = {
      width: el.clientWidth || 900,
      height: 420,
      series: seriesOptions(parts),
      bands: parts.map((_, i) => ({ series: [3 * i + 3, 3 * i + 2], fill: COLORS[i % COLORS.length] + "22" })),
      scales: { x: { time: false } },
      axes: [{ label: "revision (branch position)" }, {}],
      cursor: { drag: { x: true, y: false, setScale: true }, focus: { prox: 30 } },
      legend: { live: false },
      hooks: {
        draw: [drawAlerts, markPainted],
        setCursor: [showTooltip],
        setScale: [(u, key) => { if (key === "x" && !applying) scheduleFetch(u); }],
      },
    };
    el.replaceChildren();
    plot = new uPlot(opts, full.columns, el);
    wire(plot);
  }

  let painted = false;
  function markPainted() {
    if (painted) return;
    painted = true;
    performance.mark("psf-chart-painted");
    el.dataset.painted = "1";
  }

  function wire(u) {
    u.over.addEventListener("mousedown", (e) => { dragX = e.clientX; });
    u.over.addEventListener("click", (e) => {
      if (dragX != null && Math.abs(e.clientX - dragX) > 3) return;
      const idx = u.cursor.idx;
      const hit = idx == null ? null : pointAt(u, idx);
      if (hit) window.location.href = "/revision/" + encodeURIComponent(hit.part.points.revision[hit.row]);
    });
    u.over.addEventListener("mouseleave", () => { tooltip.hidden = true; });
    u.over.addEventListener("wheel", (e) => {
      e.preventDefault();
      const x = u.posToVal(e.offsetX, "x");
      zoom(e.deltaY < 0 ? 0.75 : 1 / 0.75, x);
    }, { passive: false });
  }

  function range() { return [plot.scales.x.min, plot.scales.x.max]; }
  function extent() { return [bounds.min, bounds.max]; }

  function zoom(factor, centre) {
    const [a, b] = range();
    const c = centre == null ? (a + b) / 2 : centre;
    const [lo, hi] = extent();
    const na = Math.max(lo, c - (c - a) * factor), nb = Math.min(hi, c + (b - c) * factor);
    if (nb - na >= 2) plot.setScale("x", { min: na, max: nb });
  }

  function pan(fraction) {
    const [a, b] = range();
    const [lo, hi] = extent();
    let shift = (b - a) * fraction;
    if (a + shift < lo) shift = lo - a;
    if (b + shift > hi) shift = hi - b;
    plot.setScale("x", { min: a + shift, max: b + shift });
  }

  // A changed x range loads that range again at full resolution (only the visible part travels).
  function scheduleFetch(u) {
    clearTimeout(fetchTimer);
    fetchTimer = setTimeout(async () => {
      const [a, b] = range();
      if (Math.abs(a - shown[0]) < 1e-9 && Math.abs(b - shown[1]) < 1e-9) return;
      const mine = ++generation;
      const whole = a <= bounds.min && b >= bounds.max;
      try {
        const parts = await Promise.all(ids.map((id) => fetchSeries(id, whole ? null : a, whole ? null : b)));
        if (mine !== generation) return;
        const keep = [a, b];
        loaded = parts;
        full = align(parts);
        shown = [a, b];
        applying = true;  // drawing what was fetched is not a move of the user's: no new fetch
        try {
          plot.setData(full.columns, false);
          plot.setScale("x", { min: keep[0], max: keep[1] });
        } finally { applying = false; }
        performance.mark("psf-chart-refetched");
        status.textContent = describe(parts);
      } catch (err) { status.textContent = "could not load: " + err.message; }
    }, 120);
  }

  function describe(parts) {
    return parts.map((p) => label(p.series) + ": " + p.points.position.length + " of " + p.total_points +
      " revisions shown" + (p.downsampled ? " (min/max per bucket)" : "")).join(" · ");
  }

  const bounds = { min: 0, max: 1 };
  document.querySelectorAll("[data-chart-action]").forEach((button) => {
    button.addEventListener("click", () => {
      if (!plot) return;
      const action = button.dataset.chartAction;
      if (action === "zoom-in") zoom(0.5);
      else if (action === "zoom-out") zoom(2);
      else if (action === "pan-left") pan(-0.25);
      else if (action === "pan-right") pan(0.25);
      else plot.setScale("x", { min: bounds.min, max: bounds.max });
    });
  });
  document.addEventListener("keydown", (e) => {
    if (!plot || e.target.closest("input, textarea, select")) return;
    if (e.key === "ArrowLeft") pan(-0.25);
    else if (e.key === "ArrowRight") pan(0.25);
    else if (e.key === "+" || e.key === "=") zoom(0.5);
    else if (e.key === "-") zoom(2);
  });
  window.addEventListener("resize", () => { if (plot) plot.setSize({ width: el.clientWidth, height: 420 }); });

  if (!ids.length) { status.textContent = "No series given: /graph?series=ID,ID"; return; }
  performance.mark("psf-chart-fetch");
  Promise.all(ids.map((id) => fetchSeries(id))).then((parts) => {
    bounds.min = Math.min(...parts.map((p) => p.points.position[0] ?? 0));
    bounds.max = Math.max(...parts.map((p) => p.points.position[p.points.position.length - 1] ?? 1));
    if (title && parts.length === 1) title.textContent = label(parts[0].series);
    shown = [bounds.min, bounds.max];
    build(parts);
    listMarks(parts);
    status.textContent = describe(parts);
  }).catch((err) => { status.textContent = "could not load: " + err.message; });
})();
