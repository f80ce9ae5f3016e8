// The staff screen: send what the scanner typed, show the committed decision,
// and keep the day's totals and banners current (scans from other readers too).
"use strict";

const labels = JSON.parse(document.getElementById("labels").textContent);
const lang = JSON.parse(document.getElementById("lang").textContent);
const input = document.getElementById("payload");
const byId = (id) => document.getElementById(id);
// Decisions made before this page loaded are history, not news.
let shownSeq = JSON.parse(document.getElementById("last-seq").textContent);

function showDecision(answer) {
  shownSeq = Math.max(shownSeq, answer.seq || 0);
  const result = byId("result");
  result.className = answer.accepted ? "accepted" : "rejected";
  byId("verdict").textContent = answer.text.verdict;
  byId("reason").textContent = answer.message;
  byId("charge").textContent = answer.accepted ? `${labels.charge} ${answer.text.charge}` : "";
  const details = byId("details");
  details.hidden = !answer.text.category;
  byId("price").textContent = answer.text.price || "–";
  byId("discount").textContent = answer.text.discount || "–";
  byId("category").textContent = answer.text.category || "–";
  byId("eligible").textContent = answer.text.eligible_until || "–";
}

function showUnavailable(message) {
  byId("result").className = "unavailable";
  byId("verdict").textContent = lang === "en" ? "NOT CHECKED" : "TIDAK DIPERIKSA";
  byId("reason").textContent = message;
  byId("charge").textContent = "";
  byId("details").hidden = true;
}

function showStatus(status) {
  if (status.last && status.last.seq > shownSeq) showDecision(status.last);
  const banners = byId("banners");
  banners.replaceChildren(...status.banners.map((text) => {
    const p = document.createElement("p");
    p.className = "banner";
    p.textContent = text;
    return p;
  }));
  for (const name of ["scans", "accepted", "rejected", "paid", "discount"]) {
    byId(`t-${name}`).textContent = status.today[name];
  }
  byId("pending").textContent = status.pending ? `${status.pending} ${labels.unsynced}` : "";
  showFederation(status.federation);
  byId("recent").replaceChildren(...status.recent.map((row) => {
    const tr = document.createElement("tr");
    tr.className = row.accepted ? "ok" : "no";
    for (const value of [row.time, row.result, row.paid]) {
      const td = document.createElement("td");
      td.textContent = value;
      tr.append(td);
    }
    return tr;
  }));
}

// The national federation's block (docs/federation.md): hidden on a terminal that is not federated.
function showFederation(fed) {
  const section = byId("federation");
  section.hidden = !fed;
  if (!fed) return;
  section.className = fed.stale ? "stale" : "";
  byId("f-heading").textContent = fed.heading;
  const notice = byId("f-notice");
  notice.hidden = !fed.notice;
  notice.textContent = fed.notice || "";
  byId("f-lines").replaceChildren(...fed.lines.flatMap((line) => {
    const dt = document.createElement("dt");
    dt.textContent = line.label;
    const dd = document.createElement("dd");
    dd.textContent = line.value;
    return [dt, dd];
  }));
  byId("f-table").hidden = fed.regions.length === 0;
  byId("f-columns").replaceChildren(...fed.columns.map((text) => {
    const th = document.createElement("th");
    th.textContent = text;
    return th;
  }));
  byId("f-regions").replaceChildren(...fed.regions.map((row) => {
    const tr = document.createElement("tr");
    tr.className = `f-${row.state}`;
    tr.dataset.region = row.region;
    tr.dataset.state = row.state;
    for (const value of [row.name, row.text, row.note]) {
      const td = document.createElement("td");
      td.textContent = value;
      tr.append(td);
    }
    return tr;
  }));
}

async function refresh() {
  try {
    const response = await fetch(`/api/v1/status?lang=${lang}`);
    if (response.ok) showStatus(await response.json());
  } catch (error) {
    // The terminal's own server restarting: the next refresh catches up.
  }
}

document.getElementById("scan").addEventListener("submit", async (event) => {
  event.preventDefault();
  const payload = input.value.trim();
  input.value = "";
  input.focus();
  if (!payload) return;
  try {
    const response = await fetch(`/api/v1/scan?lang=${lang}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ payload, source: "screen" }),
    });
    const answer = await response.json();
    if (response.ok) showDecision(answer);
    else showUnavailable(answer.message);
  } catch (error) {
    showUnavailable(String(error));
  }
  refresh();
});

refresh();
setInterval(refresh, 2000);
