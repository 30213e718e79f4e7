-- What a job works on, so its owner can find the jobs of an avatar or a media.
-- Keep semantically equal to postgres/0012_job_refs.sql.
-- No foreign keys: a job outlives its avatar or media (avatar.delete runs after the avatar is gone).
ALTER TABLE jobs ADD COLUMN avatar_id TEXT;
ALTER TABLE jobs ADD COLUMN media_id TEXT;
-- Jobs queued before this migration carry the ids in their payloads only.
UPDATE jobs SET avatar_id = json_extract(payload, '$.avatar_id'), media_id = json_extract(payload, '$.media_id')
    WHERE json_valid(payload);
UPDATE jobs SET avatar_id = (SELECT avatar_id FROM media WHERE media.id = jobs.media_id)
    WHERE avatar_id IS NULL AND media_id IS NOT NULL;
CREATE INDEX jobs_avatar ON jobs (avatar_id, id) WHERE avatar_id IS NOT NULL;
CREATE INDEX jobs_media ON jobs (media_id, id) WHERE media_id IS NOT NULL;
