/* Wall-clock time, for timestamps that are stored or shown (intervals use uv_hrtime). */
#ifndef DT_CLOCK_H
#define DT_CLOCK_H

/* Seconds since the Unix epoch, with sub-microsecond precision. */
double dt_wall_clock(void);
#endif
