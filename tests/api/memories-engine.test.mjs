// The memories suite (memories.test.mjs) again, with every search answered by the database
// engines (SQLite FTS5 / PostgreSQL full text) instead of the in-memory text index — the path
// avatars larger than --search-index-max-memories take.
process.env.DOPPEL_TEST_SEARCH_ARGS = '--search-index-max-memories 0';
await import('./memories.test.mjs');
