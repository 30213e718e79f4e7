-- Files derived from a media file (thumbnails …), kept in the blob store. Keep equal to postgres/0006.
CREATE TABLE media_derived (
    media_id TEXT NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    variant TEXT NOT NULL,            -- "thumbnail"
    blob_key TEXT NOT NULL,
    mime TEXT NOT NULL,
    size BIGINT NOT NULL,
    PRIMARY KEY (media_id, variant)
);
CREATE INDEX media_derived_blob ON media_derived (blob_key);
