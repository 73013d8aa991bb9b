/* SPDX-License-Identifier: GPL-2.0 */
/* One-shot timers for the event loop: a timerfd on CLOCK_MONOTONIC. */
#ifndef CP_TIMER_H
#define CP_TIMER_H

#include <stdbool.h>
#include <stdint.h>

/* A non-blocking, close-on-exec timerfd, or -errno. */
int cp_timer_new(void);
/* Fire once in @ms milliseconds; 0 means as soon as possible. */
void cp_timer_arm(int fd, uint32_t ms);
void cp_timer_disarm(int fd);
bool cp_timer_armed(int fd);
/* Read the expiration in the handler; false if there was none. */
bool cp_timer_consume(int fd);

#endif
