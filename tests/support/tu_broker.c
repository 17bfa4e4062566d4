/* tu_broker.c - the shared test broker, which fault tests pause and restart. */
#include "tu_broker.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tu_kafka.h"
#include "tu_skip.h"

pid_t tu_broker_pid(void)
{
    const char *run = getenv("CHP_RUN_DIR"), *src = getenv("CHP_SOURCE_DIR");
    char path[600];
    FILE *fp;
    long pid = 0;

    if (run && *run)
        snprintf(path, sizeof(path), "%s/kafka/kafka.pid", run);
    else
        snprintf(path, sizeof(path), "%s/.cache/run/kafka/kafka.pid",
                 src ? src : ".");
    if (!(fp = fopen(path, "r")))
        return 0;
    if (fscanf(fp, "%ld", &pid) != 1)
        pid = 0;
    fclose(fp);
    return pid > 0 && kill((pid_t)pid, 0) == 0 ? (pid_t)pid : 0;
}

int tu_broker_revive(const char *brokers, const char *bounce_cmd, char *errstr,
                     size_t errstr_size)
{
    pid_t pid = tu_broker_pid();

    if (pid)
        kill(pid, SIGCONT);
    if (tu_brokers_answer(brokers, 30000, errstr, errstr_size) == 0)
        return 0;
    fprintf(stderr, "broker does not answer (%s): bouncing it\n", errstr);
    if (system(bounce_cmd) != 0 ||
        tu_brokers_answer(brokers, 60000, errstr, errstr_size) != 0)
        return -1;
    return 0;
}

pid_t tu_broker_for_faults(const char *brokers, char *bounce_cmd, size_t n)
{
    const char *src = getenv("CHP_SOURCE_DIR"), *colon;
    char port[16];
    pid_t pid = tu_broker_pid();

    if (!pid)
        tu_skip("the broker's pid file ($CHP_RUN_DIR/kafka/kafka.pid) is "
                "needed to pause and restart it");
    /* kafka.sh bounce must address the same broker. */
    if ((colon = strrchr(brokers, ':')) && !getenv("KAFKA_PORT")) {
        snprintf(port, sizeof(port), "%s", colon + 1);
        setenv("KAFKA_PORT", port, 1);
    }
    snprintf(bounce_cmd, n, "'%s/scripts/kafka.sh' bounce", src ? src : ".");
    return pid;
}

pid_t tu_broker_ensure_up(const char *brokers, const char *bounce_cmd)
{
    char err[256];

    if (tu_broker_revive(brokers, bounce_cmd, err, sizeof(err)) != 0)
        fail_msg("the shared broker could not be brought back: %s", err);
    return tu_broker_pid();
}
