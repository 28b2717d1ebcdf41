-- Which text columns of a version are stored zstd-compressed: a bit per
-- column (1 summary, 2 content, 4 article).
ALTER TABLE version ADD COLUMN packed INTEGER NOT NULL DEFAULT 0;
