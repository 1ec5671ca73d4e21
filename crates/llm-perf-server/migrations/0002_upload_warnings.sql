-- llm-perf benchmark store, schema version 2.
-- What a reader warned about while reading an upload (a statistic it dropped as broken, with
-- file, point and field), as a JSON array of strings, so the warning is not lost once the
-- upload's response is gone. Older uploads have none recorded.
ALTER TABLE uploads ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(warnings));
