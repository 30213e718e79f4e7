/* Process metrics (RSS, CPU, file descriptors) in the standard process_* names. */
#ifndef DP_PROCSTATS_H
#define DP_PROCSTATS_H

/* Registers process_* metrics, refreshed at every scrape. Call once. */
void procstats_register(void);
/* Current resident set size in bytes (0 when unknown). */
long procstats_rss_bytes(void);

#endif
