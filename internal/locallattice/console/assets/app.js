// Local Lattice console: a hash-routed page that polls the console's JSON API every second.
"use strict";
(function () {
  const view = document.getElementById("view");
  const api = (path) => fetch("api/" + path, { cache: "no-store" }).then((r) => {
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return r.json();
  });
  const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const status = (s) => `<span class="${esc(s)}">${esc(s)}</span>`;
  const state = { q: "", page: 1 };

  const routes = {
    services: renderServices,
    service: renderService,
    networks: renderNetworks,
    requests: renderRequests,
  };

  let timer = null;
  let current = "";
  async function refresh() {
    const [name, arg] = location.hash.replace(/^#\/?/, "").split("/");
    const route = routes[name] ? name : "services";
    document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.dataset.nav === (route === "service" ? "services" : route)));
    const key = location.hash;
    try {
      const html = await routes[route](decodeURIComponent(arg || ""));
      if (key !== location.hash) return; // navigated away while loading
      const focused = document.activeElement && document.activeElement.id;
      if (html !== current) {
        view.innerHTML = html;
        current = html;
        bind();
        if (focused) { const el = document.getElementById(focused); if (el) { el.focus(); if (el.setSelectionRange) el.setSelectionRange(el.value.length, el.value.length); } }
      }
      document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    } catch (e) {
      view.innerHTML = `<section><p class="UNHEALTHY">${esc(e.message)}</p></section>`;
      current = "";
    }
  }
  function schedule() {
    clearTimeout(timer);
    refresh().finally(() => { timer = setTimeout(schedule, 1000); });
  }
  window.addEventListener("hashchange", () => { current = ""; schedule(); });

  function bind() {
    const q = document.getElementById("filter");
    if (q) q.addEventListener("input", () => { state.q = q.value; state.page = 1; schedule(); });
    document.querySelectorAll("[data-page]").forEach((b) => b.addEventListener("click", () => { state.page = Number(b.dataset.page); schedule(); }));
  }

  async function renderServices() {
    const p = await api(`services?q=${encodeURIComponent(state.q)}&page=${state.page}`);
    state.page = p.page;
    const rows = p.items.map((s) => `<tr data-service="${esc(s.name)}">
      <td><a href="#/service/${encodeURIComponent(s.id)}">${esc(s.name)}</a><div class="muted mono">${esc(s.id)}</div></td>
      <td class="mono">${esc(s.dnsName)}</td><td>${status(s.status)}</td><td>${s.listeners}</td><td>${esc(s.serviceNetworks.join(", "))}</td></tr>`).join("");
    return `<h2>Services <span class="muted">(${p.total})</span></h2><section>
      <div class="toolbar"><input id="filter" placeholder="Filter by name, ID or DNS name" value="${esc(state.q)}">
      <button data-page="${p.page - 1}" ${p.page <= 1 ? "disabled" : ""}>Previous</button>
      <span id="pageinfo">page ${p.page} of ${p.pages}</span>
      <button data-page="${p.page + 1}" ${p.page >= p.pages ? "disabled" : ""}>Next</button></div>
      <table id="services"><tr><th>Name</th><th>DNS name</th><th>Status</th><th>Listeners</th><th>Service networks</th></tr>${rows}</table></section>`;
  }

  async function renderService(id) {
    const enc = encodeURIComponent(id);
    const [s, traffic, reqs] = await Promise.all([api(`services/${enc}`), api(`services/${enc}/traffic`), api(`requests?service=${enc}&limit=20`)]);
    const live = {};
    traffic.rules.forEach((r) => { live[r.listenerId + "|" + (r.ruleArn || "")] = r; });
    const listeners = s.listeners.map((l) => {
      const rules = l.rules.map((r) => {
        const t = live[l.id + "|" + (r.arn || "")] || { requests: 0, targetGroups: [] };
        const byTG = {};
        t.targetGroups.forEach((g) => { byTG[g.targetGroupId] = g; });
        let action;
        if (r.fixedResponse) {
          action = `fixed response ${r.fixedResponse}`;
        } else if (r.forward) {
          action = `<table class="split">${r.forward.map((g) => {
            const got = byTG[g.targetGroupId] || { requests: 0, codes: {}, targets: {} };
            const share = t.requests ? Math.round((got.requests * 100) / t.requests) : 0;
            const codes = Object.keys(got.codes).sort().map((c) => `<span class="c${esc(c)}">${esc(c)} ${got.codes[c]}</span>`).join(" ");
            const targets = Object.keys(got.targets).sort().map((a) => `<span class="mono">${esc(a)}: ${got.targets[a]}</span>`).join("<br>");
            return `<tr data-split="${esc(g.targetGroup)}"><td>${esc(g.targetGroup || g.targetGroupId)}</td>
              <td><span class="bar" style="width:${g.percent}px"></span><span data-weight="${esc(g.targetGroup)}">${g.percent}%</span> <span class="muted">(weight ${g.weight})</span></td>
              <td><span class="bar live" style="width:${share}px"></span><span data-live="${esc(g.targetGroup)}">${got.requests}</span> req (${share}%) ${codes}</td>
              <td>${targets}</td></tr>`;
          }).join("")}</table>`;
        } else {
          action = "—";
        }
        return `<tr data-rule="${esc(r.id)}"><td>${esc(r.priority)}</td><td>${esc(r.name)}<div class="muted mono">${esc(r.id)}</div></td><td class="mono">${esc(r.match)}</td><td>${action}</td></tr>`;
      }).join("");
      return `<h3>Listener ${esc(l.name)} <span class="muted">${esc(l.protocol)}:${l.port} · ${esc(l.id)}</span></h3>
        <table><tr><th>Priority</th><th>Rule</th><th>Match</th><th>Action: target group · weight · live requests (last minute) · per target</th></tr>${rules}</table>`;
    }).join("");
    const tgs = s.targetGroups.map((g) => `<h3>Target group ${esc(g.name)} <span class="muted">${esc(g.id)} · ${esc(g.type)} ${esc(g.protocol)}:${g.port || ""} ${esc(g.protocolVersion)} · health check ${esc(g.healthCheck)} · ${status(g.status)}</span></h3>
      <table><tr><th>Target</th><th>Port</th><th>Health</th><th>Reason</th></tr>${g.targets.map((t) => `<tr data-target="${esc(t.id + ":" + t.port)}"><td class="mono">${esc(t.id)}</td><td>${t.port}</td><td class="health">${status(t.status)}</td><td class="reason">${esc(t.reasonCode || "")}</td></tr>`).join("") || `<tr><td colspan="4" class="muted">no targets</td></tr>`}</table>`).join("");
    const nets = s.serviceNetworkAssociations.map((a) => `${esc(s.serviceNetworkNames[a.serviceNetworkId] || a.serviceNetworkId)} ${status(a.status)}`).join(", ") || "none";
    return `<h2>Service ${esc(s.name)}</h2>
      <section><dl class="kv"><dt>ID</dt><dd class="mono">${esc(s.id)}</dd><dt>ARN</dt><dd class="mono">${esc(s.arn)}</dd>
      <dt>DNS name</dt><dd class="mono" id="dns">${esc(s.dnsEntry.domainName)}</dd>${s.customDomainName ? `<dt>Custom domain</dt><dd class="mono">${esc(s.customDomainName)}</dd>` : ""}
      <dt>Status</dt><dd>${status(s.status)}</dd><dt>Auth type</dt><dd>${esc(s.authType)}</dd><dt>Service networks</dt><dd>${nets}</dd></dl></section>
      <section id="listeners"><h3 style="margin-top:0">Listeners and rules <span class="muted">(live split over the last ${esc(traffic.window)})</span></h3>${listeners || `<p class="muted">no listeners</p>`}</section>
      <section id="targetgroups">${tgs || `<p class="muted">no target groups</p>`}</section>
      <section><h3 style="margin-top:0">Policies and access logs</h3>${policies(s.authPolicy, s.accessLogSubscriptions)}</section>
      <section><h3 style="margin-top:0">Latest requests</h3>${requestTable(reqs)}</section>`;
  }

  function policies(auth, logs) {
    return `<div>Auth policy: ${auth ? `<pre>${esc(JSON.stringify(JSON.parse(auth), null, 2))}</pre>` : `<span class="muted">none</span>`}</div>
      <div>Access-log subscriptions: ${logs.length ? logs.map((l) => `<div class="mono">${esc(l.destinationArn)} <span class="muted">${esc(l.id)}</span></div>`).join("") : `<span class="muted">none</span>`}</div>`;
  }

  function requestTable(reqs) {
    if (!reqs.length) return `<p class="muted">no requests yet</p>`;
    return `<table id="requests"><tr><th>Time</th><th>Service</th><th>Request</th><th>Status</th><th>Target group</th><th>Target</th><th>Duration</th></tr>${reqs.map((r) => `<tr>
      <td class="mono">${esc(new Date(r.time).toLocaleTimeString())}</td><td>${esc(r.service)}</td><td class="mono">${esc(r.method)} ${esc(r.path)}</td>
      <td class="c${Math.floor(r.status / 100)}XX">${r.status}${r.fromTarget ? "" : ` <span class="muted">(Lattice)</span>`}</td>
      <td>${esc(r.targetGroup)}</td><td class="mono">${esc(r.target)}</td><td>${(r.duration / 1e6).toFixed(1)} ms</td></tr>`).join("")}</table>`;
  }

  async function renderNetworks() {
    const nets = await api("networks");
    return `<h2>Service networks <span class="muted">(${nets.length})</span></h2>` + nets.map((n) => `<section data-network="${esc(n.name)}">
      <h3 style="margin-top:0">${esc(n.name)} <span class="muted mono">${esc(n.id)}</span></h3>
      <dl class="kv"><dt>ARN</dt><dd class="mono">${esc(n.arn)}</dd><dt>Auth type</dt><dd>${esc(n.authType)}</dd>
      <dt>VPC associations</dt><dd>${n.vpcAssociations.map((a) => `<span class="mono">${esc(a.vpcId)}</span> ${status(a.status)}`).join(", ") || "none"}</dd>
      <dt>Services (${n.serviceCount})</dt><dd>${esc(n.services.join(", ")) || "none"}</dd></dl>${policies(n.authPolicy, n.accessLogSubscriptions)}</section>`).join("");
  }

  async function renderRequests() {
    return `<h2>Latest requests</h2><section>${requestTable(await api("requests?limit=100"))}</section>`;
  }

  schedule();
})();
