// Live job rows: a table with data-live follows its server-sent events.
// Rows are built with textContent only, so nothing a user wrote becomes markup.
"use strict";
(function () {
  function link(href, text) {
    var a = document.createElement("a");
    a.href = href; a.textContent = text;
    if (text !== "Cancel") { a.setAttribute("download", ""); }
    return a;
  }
  function cell(row, field) { return row.querySelector('[data-field="' + field + '"]'); }
  function fill(row, job) {
    var status = cell(row, "status");
    status.textContent = job.status;
    status.className = "status status-" + job.status;
    cell(row, "cancel_requested").textContent = job.cancel_requested ? "cancel requested" : "";
    cell(row, "queue_position").textContent = job.queue_position;
    var actions = cell(row, "actions");
    actions.textContent = "";
    var base = "/jobs/" + encodeURIComponent(job.job_id);
    if (job.cancellable) { actions.appendChild(link(base + "/cancel", "Cancel")); }
    if (job.has_result) { actions.appendChild(link(base + "/result", "Result")); }
    if (job.has_log) { actions.appendChild(link(base + "/log", "Log")); }
    // The job page's Hold / Release forms follow the status too.
    var forms = document.querySelectorAll("form[data-when]");
    for (var i = 0; i < forms.length; i++) {
      if (forms[i].dataset.job === job.job_id) { forms[i].hidden = !job[forms[i].dataset.when]; }
    }
  }
  function newRow(job) {
    var row = document.createElement("tr");
    row.dataset.jobId = job.job_id;
    var id = document.createElement("td");
    var a = document.createElement("a");
    a.href = "/jobs/" + encodeURIComponent(job.job_id);
    var code = document.createElement("code"); code.textContent = job.job_id;
    a.appendChild(code); id.appendChild(a); row.appendChild(id);
    if (job.array_id) {
      var arr = document.createElement("a");
      arr.className = "array"; arr.title = "its job array";
      arr.href = "/arrays/" + encodeURIComponent(job.array_id);
      arr.textContent = job.array_id + "[" + job.array_index + "]";
      id.appendChild(document.createElement("br")); id.appendChild(arr);
    }
    var st = document.createElement("td");
    var s = document.createElement("span"); s.dataset.field = "status";
    var c = document.createElement("span"); c.dataset.field = "cancel_requested"; c.className = "muted";
    st.appendChild(s); st.appendChild(document.createTextNode(" ")); st.appendChild(c); row.appendChild(st);
    var q = document.createElement("td"); q.dataset.field = "queue_position"; row.appendChild(q);
    var b = document.createElement("td"); b.textContent = job.backend; row.appendChild(b);
    var t = document.createElement("td"); t.textContent = job.submitted; row.appendChild(t);
    var act = document.createElement("td"); act.className = "actions"; act.dataset.field = "actions";
    row.appendChild(act);
    return row;
  }
  function rowOf(body, jobId) {
    for (var i = 0; i < body.rows.length; i++) {
      if (body.rows[i].dataset.jobId === jobId) { return body.rows[i]; }
    }
    return null;
  }
  function follow(table) {
    var body = table.tBodies[0];
    var source = new EventSource(table.dataset.live);
    source.addEventListener("left", function (event) {
      var row = rowOf(body, JSON.parse(event.data).job_id);
      if (row !== null) { row.remove(); }
    });
    source.addEventListener("job", function (event) {
      var job = JSON.parse(event.data);
      var row = rowOf(body, job.job_id);
      if (row === null) {
        row = newRow(job);
        body.insertBefore(row, body.firstChild);
        var empty = document.querySelector("[data-empty]");
        if (empty) { empty.remove(); }
      }
      fill(row, job);
      if (job.terminal && table.dataset.live.indexOf("/events/jobs/") === 0) { source.close(); }
    });
    source.addEventListener("failed", function () { source.close(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var tables = document.querySelectorAll("table[data-live]");
    for (var i = 0; i < tables.length; i++) { follow(tables[i]); }
  });
})();
