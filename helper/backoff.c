// SPDX-License-Identifier: GPL-2.0
/* Capped exponential backoff with full jitter; see backoff.h. */
#include <sys/random.h>

#include "backoff.h"

void cp_backoff_init(struct cp_backoff *b, uint32_t base_ms, uint32_t cap_ms)
{
	b->base_ms = base_ms ? base_ms : 1;
	b->cap_ms = cap_ms < b->base_ms ? b->base_ms : cap_ms;
	b->attempt = 0;
}

void cp_backoff_reset(struct cp_backoff *b)
{
	b->attempt = 0;
}

uint32_t cp_backoff_ceiling(const struct cp_backoff *b)
{
	uint64_t ceil = b->base_ms;

	/* Stop doubling once past the cap; no overflow for any attempt. */
	for (unsigned int i = 0; i < b->attempt && ceil < b->cap_ms; i++)
		ceil *= 2;
	return ceil > b->cap_ms ? b->cap_ms : (uint32_t)ceil;
}

uint32_t cp_backoff_next(struct cp_backoff *b, cp_rand_fn rnd, void *ctx)
{
	uint32_t ceil = cp_backoff_ceiling(b);
	uint64_t r = rnd(ctx);

	if (b->attempt < 64)
		b->attempt++;
	/* Uniform in [0, ceil] by scaling a 32-bit sample. */
	return (uint32_t)((r * ((uint64_t)ceil + 1)) >> 32);
}

uint32_t cp_backoff_retry_after(uint32_t wait_ms, uint32_t retry_after_s, uint32_t limit_ms)
{
	uint64_t ra = (uint64_t)retry_after_s * 1000;

	if (ra > limit_ms)
		ra = limit_ms;
	return wait_ms > ra ? wait_ms : (uint32_t)ra;
}

uint32_t cp_rand(void *ctx)
{
	static uint64_t s;

	(void)ctx;
	if (!s && (getrandom(&s, sizeof(s), 0) != sizeof(s) || !s))
		s = 0x9e3779b97f4a7c15ULL;
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (uint32_t)(s >> 32);
}
