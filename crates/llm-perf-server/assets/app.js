// llm-perf workbench: what the pages do in the browser. Everything that comes from a file
// or a server answer is written with textContent, never as HTML. Writes carry the bearer
// token typed into the navigation bar (kept for this tab only) when the server wants one.
(function () {
  'use strict';
  var TOKEN_KEY = 'llm-perf-token';

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  function authHeaders(extra) {
    var headers = extra || {};
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (token) { headers.Authorization = 'Bearer ' + token; }
    return headers;
  }

  // fetch → {status, body (parsed JSON or text)}.
  function call(method, url, body, headers) {
    return fetch(url, { method: method, body: body, headers: authHeaders(headers) }).then(function (r) {
      var type = r.headers.get('content-type') || '';
      var read = type.indexOf('application/json') === 0 ? r.json() : r.text();
      return read.then(function (b) { return { status: r.status, body: b }; });
    });
  }

  function message(answer) {
    if (answer.body && typeof answer.body === 'object' && answer.body.message) { return answer.body.message; }
    return 'HTTP ' + answer.status;
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }

  function setStatus(node, text, ok) {
    node.textContent = text;
    node.className = ok ? 'ok' : 'error';
  }

  function tokenField() {
    var input = $('#token');
    if (!input) { return; }
    input.value = sessionStorage.getItem(TOKEN_KEY) || '';
    input.addEventListener('change', function () {
      if (input.value) { sessionStorage.setItem(TOKEN_KEY, input.value); } else { sessionStorage.removeItem(TOKEN_KEY); }
    });
  }

  // A key–value table from [[key, value], …].
  function kvTable(rows) {
    var table = el('table', null, 'kv');
    rows.forEach(function (r) {
      var tr = el('tr');
      tr.appendChild(el('td', r[0]));
      var td = el('td', r[1]);
      if (r.length > 2) { td.setAttribute('data-value', String(r[2])); }
      tr.appendChild(td);
      table.appendChild(tr);
    });
    return table;
  }

  function fmt(v, digits) {
    if (typeof v !== 'number' || !isFinite(v)) { return v === null || v === undefined ? '–' : String(v); }
    return Number(v.toPrecision(digits || 5)).toString();
  }

  // ---- Upload page ----------------------------------------------------------------------
  // The "Stored files" table, rebuilt from /api/uploads.
  function refreshStored() {
    call('GET', '/api/uploads').then(function (a) {
      if (a.status !== 200) { return; }
      var box = $('#stored');
      box.textContent = '';
      if (!a.body.length) { box.appendChild(el('p', 'Nothing stored yet.', 'muted')); return; }
      var table = el('table');
      table.id = 'uploads';
      var head = el('tr');
      ['id', 'file', 'format', 'kind', 'content', 'uploaded'].forEach(function (h) { head.appendChild(el('th', h)); });
      table.appendChild(head);
      a.body.forEach(function (u) {
        var tr = el('tr');
        var content = u.summary + ((u.warnings || []).length ? ' (' + u.warnings.length + ' warning' + (u.warnings.length === 1 ? '' : 's') + ': ' + u.warnings.join('; ') + ')' : '');
        [u.upload_id, u.file_name, u.format, u.kind, content, u.uploaded_at].forEach(function (v) { tr.appendChild(el('td', v)); });
        table.appendChild(tr);
      });
      box.appendChild(table);
    });
  }

  function uploadPage() {
    var input = $('#files');
    var drop = $('#drop');
    var list = $('#results');
    var model = $('#model');
    function send(files) {
      var pending = files.length;
      function finished() { pending -= 1; if (pending === 0) { refreshStored(); } }
      Array.prototype.forEach.call(files, function (file) {
        var item = el('li', file.name + ': uploading…');
        item.setAttribute('data-file', file.name);
        list.insertBefore(item, list.firstChild);
        var url = '/api/benchmarks/upload?name=' + encodeURIComponent(file.name);
        if (model && model.value) { url += '&model=' + encodeURIComponent(model.value); }
        call('POST', url, file).then(function (a) {
          item.setAttribute('data-status', String(a.status));
          if (a.status === 201) {
            var b = a.body;
            var parts = b.benchmarks.map(function (x) { return x.model + ' (' + x.points + ' points)'; });
            var what = parts.length ? parts.join(', ') : b.summary;
            setStatus(item, file.name + ': ' + b.format + ' — ' + what, true);
            (b.warnings || []).forEach(function (w) {
              var note = el('div', 'warning: ' + w);
              note.className = 'warning';
              item.appendChild(note);
            });
          } else {
            setStatus(item, file.name + ': ' + message(a), false);
          }
          finished();
        }).catch(function (e) {
          item.setAttribute('data-status', 'network');
          setStatus(item, file.name + ': ' + e, false);
          finished();
        });
      });
    }
    input.addEventListener('change', function () { send(input.files); input.value = ''; });
    ['dragenter', 'dragover'].forEach(function (t) {
      drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add('over'); });
    });
    ['dragleave', 'drop'].forEach(function (t) {
      drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.remove('over'); });
    });
    drop.addEventListener('drop', function (e) { send(e.dataTransfer.files); });
  }

  // ---- Model page: delete with confirmation ------------------------------------------------
  function modelPage() {
    $all('button.delete').forEach(function (button) {
      button.addEventListener('click', function () {
        var id = button.getAttribute('data-id');
        if (!window.confirm('Delete benchmark ' + id + ' and its points?')) { return; }
        call('DELETE', '/api/benchmarks/benchmarks/' + encodeURIComponent(id)).then(function (a) {
          if (a.status !== 200) { setStatus($('#status'), message(a), false); return; }
          // The model's last benchmark gone, the model is gone too: back to the list.
          if ($all('button.delete').length <= 1) { window.location.href = '/models'; } else { window.location.reload(); }
        });
      });
    });
  }

  // ---- Capacity page: fit a stored sweep -------------------------------------------------------
  function capacityPage() {
    $all('button.fit').forEach(function (button) {
      button.addEventListener('click', function () {
        var id = button.getAttribute('data-id');
        setStatus($('#status'), 'fitting benchmark ' + id + '…', true);
        call('POST', '/api/benchmarks/benchmarks/' + encodeURIComponent(id) + '/fit', '').then(function (a) {
          if (a.status === 201) {
            window.location.href = '/capacity?fit=' + encodeURIComponent(a.body.derived_id);
          } else {
            setStatus($('#status'), message(a), false);
          }
        });
      });
    });
  }

  // ---- Predictors page: store a predictor file ---------------------------------------------------
  function predictorsPage() {
    var form = $('#predictor-upload');
    if (!form) { return; }
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var file = $('#predictor-file').files[0];
      if (!file) { setStatus($('#status'), 'choose a predictor file first', false); return; }
      var model = $('#predictor-model').value || 'unnamed';
      var url = '/api/predictors?model=' + encodeURIComponent(model) + '&name=' + encodeURIComponent(file.name);
      call('POST', url, file).then(function (a) {
        if (a.status === 201) {
          window.location.href = '/predictors?id=' + encodeURIComponent(a.body.id);
        } else {
          setStatus($('#status'), message(a), false);
        }
      });
    });
  }

  // ---- Simulate page ----------------------------------------------------------------------------
  function simulatePage() {
    var text = $('#config');
    $('#config-file').addEventListener('change', function (e) {
      var file = e.target.files[0];
      if (file) { file.text().then(function (t) { text.value = t; }); }
    });
    $('#run').addEventListener('click', function () {
      var status = $('#status');
      setStatus(status, 'running…', true);
      $('#summary').textContent = '';
      $('#charts').textContent = '';
      call('POST', '/api/simulate', text.value, { 'Content-Type': 'text/plain' }).then(function (a) {
        if (a.status !== 200) { setStatus(status, message(a), false); return; }
        var s = a.body.summary;
        var lat = s.latency;
        var rows = [
          ['requests', s.requests.completed + ' completed of ' + s.requests.arrived + ' arrived (' +
            s.requests.rejected + ' rejected, ' + s.requests.unfinished + ' unfinished)'],
          ['simulated time', fmt(s.simulated_time_s) + ' s'],
          ['throughput', fmt(s.throughput.requests_per_second) + ' req/s, ' + fmt(s.throughput.output_tokens_per_second) + ' output tok/s'],
          ['TTFT mean / p99', fmt(lat.ttft_ms.mean) + ' / ' + fmt(lat.ttft_ms.p99) + ' ms'],
          ['TPOT mean / p99', fmt(lat.tpot_ms.mean) + ' / ' + fmt(lat.tpot_ms.p99) + ' ms'],
          ['ITL mean / p99', fmt(lat.itl_ms.mean) + ' / ' + fmt(lat.itl_ms.p99) + ' ms'],
          ['E2E mean / p99', fmt(lat.e2e_ms.mean) + ' / ' + fmt(lat.e2e_ms.p99) + ' ms'],
          ['wall time', fmt(a.body.wall_ms, 3) + ' ms']
        ];
        var summary = $('#summary');
        summary.appendChild(kvTable(rows));
        (a.body.notes || []).forEach(function (n) { summary.appendChild(el('p', n, 'muted')); });
        window.llmPerfCharts.show($('#charts'), a.body.charts);
        setStatus(status, 'done: ' + s.requests.completed + ' requests simulated', true);
      }).catch(function (e) { setStatus(status, String(e), false); });
    });
  }

  // ---- Tune page ----------------------------------------------------------------------------------
  function tunePage() {
    $('#results-file').addEventListener('change', function (e) {
      var file = e.target.files[0];
      var status = $('#status');
      if (!file) { return; }
      setStatus(status, 'reading ' + file.name + '…', true);
      file.text().then(function (text) {
        return call('POST', '/api/tune/results?name=' + encodeURIComponent(file.name), text, { 'Content-Type': 'text/plain' });
      }).then(function (a) {
        if (a.status !== 200) { setStatus(status, message(a), false); return; }
        var best = $('#best');
        best.textContent = '';
        var b = a.body.best;
        if (b) {
          var rows = [['cost', fmt(b.fitness, 6), b.fitness], ['iteration.particle', b.iteration + '.' + b.particle]];
          Object.keys(b.config).forEach(function (k) { rows.push([k, String(b.config[k])]); });
          if (b.index) {
            rows.push(['output throughput', fmt(b.index.output_throughput) + ' tok/s']);
            rows.push(['TTFT mean / p99', fmt(b.index.ttft_ms) + ' / ' + fmt(b.index.ttft_p99_ms) + ' ms']);
            rows.push(['TPOT', fmt(b.index.tpot_ms) + ' ms']);
          }
          best.appendChild(kvTable(rows));
        }
        window.llmPerfCharts.show($('#charts'), a.body.charts);
        setStatus(status, a.body.records + ' evaluations over ' + a.body.iterations + ' iterations; ' +
          a.body.pareto + ' on the Pareto front', true);
      }).catch(function (e) { setStatus(status, String(e), false); });
    });
  }

  var pages = {
    upload: uploadPage, model: modelPage, capacity: capacityPage, predictors: predictorsPage,
    simulate: simulatePage, tune: tunePage
  };
  document.addEventListener('DOMContentLoaded', function () {
    tokenField();
    var page = pages[document.body.getAttribute('data-page')];
    if (page) { page(); }
  });
})();
