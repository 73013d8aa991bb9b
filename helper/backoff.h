/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Capped exponential backoff with full jitter: the n-th retry waits a
 * uniformly random time in [0, min(cap, base * 2^n)].
 */
#ifndef CP_BACKOFF_H
#define CP_BACKOFF_H

#include <stdint.h>

struct cp_backoff {
	uint32_t base_ms;
	uint32_t cap_ms;
	unsigned int attempt;	/* retries since the last success */
};

/* A source of uniform random 32-bit numbers (injectable for tests). */
typedef uint32_t (*cp_rand_fn)(void *ctx);

void cp_backoff_init(struct cp_backoff *b, uint32_t base_ms, uint32_t cap_ms);
void cp_backoff_reset(struct cp_backoff *b);
/* Upper bound of the next wait: min(cap, base * 2^attempt). */
uint32_t cp_backoff_ceiling(const struct cp_backoff *b);
/* The next wait in ms, and count the attempt. */
uint32_t cp_backoff_next(struct cp_backoff *b, cp_rand_fn rnd, void *ctx);
/* Honour a server's Retry-After (seconds): never wait less than it says,
 * but never more than @limit_ms. */
uint32_t cp_backoff_retry_after(uint32_t wait_ms, uint32_t retry_after_s, uint32_t limit_ms);
/* The default random source: xorshift seeded from getrandom(). */
uint32_t cp_rand(void *ctx);

#endif
