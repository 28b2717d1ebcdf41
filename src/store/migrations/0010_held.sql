-- Events the alert conditions held back: recorded for `report --all` with
-- the reason, never given a delivery. NULL for every event raised.
ALTER TABLE event ADD COLUMN held TEXT;
