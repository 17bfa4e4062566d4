/* tu_broker.h - the shared test broker, which fault tests pause and restart. */
#ifndef CHP_TU_BROKER_H
#define CHP_TU_BROKER_H

#include <stddef.h>
#include <sys/types.h>

/* The pid of the shared test broker (scripts/kafka.sh writes it to
 * $CHP_RUN_DIR/kafka/kafka.pid), or 0 when it is not running.  Fault tests
 * pause and restart it. */
pid_t tu_broker_pid(void);

/* Resumes the shared broker (SIGCONT) and makes sure it answers; runs
 * bounce_cmd (scripts/kafka.sh bounce: a restart over its data) when it
 * does not.  Every fault test calls it at the end of a case, whatever
 * happened, since the other tests share the broker.  0, or -1 with errstr
 * filled. */
int tu_broker_revive(const char *brokers, const char *bounce_cmd, char *errstr,
                     size_t errstr_size);

/* For a test that pauses and restarts the shared broker: its pid (the test
 * is skipped without one), and in bounce_cmd the command that restarts
 * that same broker (scripts/kafka.sh bounce, KAFKA_PORT taken from
 * brokers unless set). */
pid_t tu_broker_for_faults(const char *brokers, char *bounce_cmd, size_t n);

/* tu_broker_revive, failing the cmocka case when the broker cannot be
 * brought back; its pid (0 if unknown). */
pid_t tu_broker_ensure_up(const char *brokers, const char *bounce_cmd);

#endif
