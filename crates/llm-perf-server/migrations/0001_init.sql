-- llm-perf benchmark store, schema version 1.
-- An upload is one file as received: benchmark results (read into benchmarks and points),
-- or a request trace, a profiling table or a model document (kept whole, summarised); a benchmark is the points of one model in one upload
-- (a Together CSV naming two models gives two benchmarks); a point is one measured operating
-- point; point_stats holds every statistic the file gave for it, by name (ttft_mean,
-- ttft_p99, e2e_p50, user_tps_mean, throughput, ...), so no percentile is dropped.

-- Ids of uploads, benchmarks and derived models are never reused (AUTOINCREMENT): an id a
-- script or a page kept never comes to mean another file after a delete.
CREATE TABLE uploads (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    file_name   TEXT    NOT NULL,
    sha256      TEXT    NOT NULL UNIQUE CHECK (length(sha256) = 64),
    format      TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('benchmark', 'trace', 'profile', 'document')),
    summary     TEXT    NOT NULL,
    size_bytes  INTEGER NOT NULL CHECK (size_bytes > 0),
    content     BLOB    NOT NULL,
    uploaded_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE TABLE benchmarks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    upload_id   INTEGER NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    model       TEXT    NOT NULL CHECK (length(model) > 0),
    name        TEXT    NOT NULL,
    accelerator TEXT,
    engine      TEXT
) STRICT;
CREATE INDEX benchmarks_by_model ON benchmarks(model);
CREATE INDEX benchmarks_by_upload ON benchmarks(upload_id);

CREATE TABLE points (
    id                INTEGER PRIMARY KEY,
    benchmark_id      INTEGER NOT NULL REFERENCES benchmarks(id) ON DELETE CASCADE,
    idx               INTEGER NOT NULL CHECK (idx >= 0),
    label             TEXT,
    request_rate      REAL CHECK (request_rate > 0),
    concurrency       REAL CHECK (concurrency > 0),
    traffic_level     REAL,
    input_tokens      REAL NOT NULL CHECK (input_tokens >= 0),
    output_tokens     REAL NOT NULL CHECK (output_tokens >= 0),
    output_throughput REAL CHECK (output_throughput >= 0),
    successful        INTEGER CHECK (successful >= 0),
    failed            INTEGER CHECK (failed >= 0),
    max_batch_size    INTEGER CHECK (max_batch_size >= 1),
    max_num_tokens    INTEGER CHECK (max_num_tokens >= 1),
    UNIQUE (benchmark_id, idx)
) STRICT;

CREATE TABLE point_stats (
    point_id INTEGER NOT NULL REFERENCES points(id) ON DELETE CASCADE,
    name     TEXT    NOT NULL,
    value    REAL    NOT NULL,
    PRIMARY KEY (point_id, name)
) STRICT, WITHOUT ROWID;

-- Models users derive from stored data: Inferno fits, Together regressions, predictor files.
CREATE TABLE derived_models (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    model        TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('inferno-fit', 'together-regression', 'predictor')),
    name         TEXT    NOT NULL,
    benchmark_id INTEGER REFERENCES benchmarks(id) ON DELETE SET NULL,
    content      TEXT    NOT NULL CHECK (json_valid(content)),
    created_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX derived_by_model ON derived_models(model, kind);
