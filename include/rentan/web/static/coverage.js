// Charts of the coverage page, drawn with plotly.js (served by the plugin from the plotly
// package) from the page's own data: api/coverage, the figures of the published marts.
(function () {
  var me = document.getElementById("coverage-script");
  var snapshot = me.dataset.snapshot;
  var palette = ["#1f6feb", "#2da44e", "#bf8700", "#cf222e", "#8250df", "#57606a", "#0a7ea4"];
  var layout = function (extra) {
    return Object.assign({
      margin: {l: 60, r: 10, t: 10, b: 50}, height: 300, barmode: "group",
      font: {family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12},
      legend: {orientation: "h", y: -0.2}, colorway: palette,
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)"
    }, extra || {});
  };
  var config = {displaylogo: false, displayModeBar: false, responsive: true};
  var idr = function (v) { return (v < 0 ? "-" : "") + "Rp" + Math.abs(Math.round(v)).toLocaleString("id-ID"); };

  function draw(d) {
    var regs = d.regencies, names = regs.map(function (r) { return r.regency; });
    var pick = function (k) { return regs.map(function (r) { return r[k]; }); };
    var charts = [];
    charts.push(Plotly.newPlot("chart-coverage", [{
      type: "bar", x: names, y: pick("coverage_pct"), name: "coverage %",
      text: regs.map(function (r) { return r.coverage_pct === null ? "no population figure" : r.coverage_pct.toFixed(2) + " %"; }),
      textposition: "auto",
      customdata: regs.map(function (r) { return [r.active_participants, r.working_population]; }),
      hovertemplate: "%{x}: %{y:.2f} %<br>%{customdata[0]:,} active of %{customdata[1]:,}<extra></extra>"
    }], layout({yaxis: {title: "%", rangemode: "tozero"}, showlegend: false}), config));
    charts.push(Plotly.newPlot("chart-workers", [
      {type: "bar", name: "quota", x: names, y: pick("vulnerable_quota")},
      {type: "bar", name: "enrolled", x: names, y: pick("vulnerable_enrolled")},
      {type: "bar", name: "paid up", x: names, y: pick("vulnerable_active")}
    ], layout({yaxis: {title: "workers"}}), config));
    charts.push(Plotly.newPlot("chart-villages", [
      {type: "bar", name: "submitted", x: names, y: pick("villages_submitted")},
      {type: "bar", name: "missing", x: names, y: pick("villages_missing"), marker: {color: "#cf222e"}},
      {type: "bar", name: "quota met", x: names, y: pick("villages_quota_met"), marker: {color: "#2da44e"}}
    ], layout({yaxis: {title: "villages"}}), config));
    charts.push(Plotly.newPlot("chart-budget", [
      {type: "bar", name: "required", x: names, y: pick("contribution_required_idr"),
       hovertemplate: "%{x}: Rp%{y:,.0f}<extra>required</extra>"},
      {type: "bar", name: "budgeted", x: names, y: pick("contribution_budget_idr"),
       hovertemplate: "%{x}: Rp%{y:,.0f}<extra>budgeted</extra>"},
      {type: "scatter", mode: "markers+text", name: "gap", x: names, y: pick("gap_idr"),
       text: pick("gap_idr").map(function (v) { return v === null ? "" : idr(v); }), textposition: "top center",
       marker: {size: 10, color: "#cf222e"}}
    ], layout({yaxis: {title: "rupiah"}}), config));
    var types = Array.from(new Set(d.claims.map(function (c) { return c.claim_type; }))).sort();
    var months = Array.from(new Set(d.claims.map(function (c) { return c.month; }))).sort();
    charts.push(Plotly.newPlot("chart-claims", types.map(function (t) {
      var by = {};
      d.claims.forEach(function (c) { if (c.claim_type === t) { by[c.month] = (by[c.month] || 0) + c.amount_idr; } });
      var count = {};
      d.claims.forEach(function (c) { if (c.claim_type === t) { count[c.month] = (count[c.month] || 0) + c.claims; } });
      return {type: "bar", name: t, x: months, y: months.map(function (m) { return by[m] || 0; }),
              customdata: months.map(function (m) { return count[m] || 0; }),
              hovertemplate: "%{x|%b %Y} " + t + ": %{customdata:,} claims, Rp%{y:,.0f}<extra></extra>"};
    }), layout({barmode: "stack", yaxis: {title: "rupiah paid"}, xaxis: {type: "date", tickformat: "%b %Y"}}), config));
    var reasons = d.night.quarantine.by_reason.slice().reverse();
    charts.push(Plotly.newPlot("chart-quarantine", [{
      type: "bar", orientation: "h", y: reasons.map(function (r) { return r.reason_code; }),
      x: reasons.map(function (r) { return r.rows; }), marker: {color: "#bf8700"},
      text: reasons.map(function (r) { return r.rows.toLocaleString("en"); }), textposition: "auto",
      customdata: reasons.map(function (r) { return r.reason; }),
      hovertemplate: "%{y}: %{x:,} rows<br>%{customdata}<extra></extra>"
    }], layout({height: Math.max(200, 28 * reasons.length + 60), margin: {l: 170, r: 10, t: 10, b: 30},
                showlegend: false}), config));
    return Promise.all(charts);
  }

  fetch("api/coverage?snapshot=" + encodeURIComponent(snapshot), {credentials: "same-origin"})
    .then(function (r) { if (!r.ok) { throw new Error("api/coverage: " + r.status); } return r.json(); })
    .then(draw)
    .then(function () { document.body.dataset.charts = "ready"; })
    .catch(function (e) {
      document.body.dataset.charts = "failed";
      var p = document.createElement("p");
      p.className = "bad";
      p.textContent = "The charts could not be drawn: " + e.message;
      document.querySelector(".grid").before(p);
    });
})();
