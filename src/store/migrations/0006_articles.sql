-- Followed articles: where each item's article was last fetched from, its
-- validators for the next conditional GET, when it was last asked for, and
-- why the last attempt failed, if it did.
ALTER TABLE item ADD COLUMN article_url TEXT;
ALTER TABLE item ADD COLUMN article_etag BLOB;
ALTER TABLE item ADD COLUMN article_last_modified BLOB;
ALTER TABLE item ADD COLUMN article_checked TEXT;
ALTER TABLE item ADD COLUMN article_error TEXT;
