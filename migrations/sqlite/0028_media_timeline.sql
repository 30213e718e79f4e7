-- Where a media item's audio sits in time. Keep equal to postgres/0028_media_timeline.sql.
-- A device conversation is filed as media cropped to its speech: recorded_at is the wall-clock
-- time its recording started (the device's own clock for a back-fill), and timeline maps the
-- cropped audio back to the recording, so each utterance memory gets the time it was said.
ALTER TABLE media ADD COLUMN recorded_at TEXT; -- RFC 3339; NULL: not known (an upload)
ALTER TABLE media ADD COLUMN timeline TEXT;    -- JSON [[media_ms, recording_ms, len_ms], ...] pieces in order; NULL: uncut
