-- What the last document read had wrong with it but could be read past
-- (ill-formed XML read leniently), shown by `sources`.
ALTER TABLE source ADD COLUMN last_warning TEXT;
