/* conf_table.h - shorthands for writing a property table (private).
 *
 * Included only by the files that define a table: lib/conf.c (the
 * library's keys) and src/conf_daemon.c (the daemons' keys). */
#ifndef CHP_CONF_TABLE_H
#define CHP_CONF_TABLE_H

#include "conf.h"

#define S_CLIENT   CHP_SCOPE_CLIENT
#define S_WORKER   CHP_SCOPE_WORKER
#define S_CTL      CHP_SCOPE_CONTROLLER
#define S_COLL     CHP_SCOPE_COLLECTOR
#define S_REPORT   CHP_SCOPE_REPORT
#define S_AUDITORS (S_CLIENT | S_WORKER)
#define S_DAEMONS  (S_WORKER | S_CTL | S_COLL)

#define STR(...)    .type = CHP_CONF_STR, __VA_ARGS__
#define INT(lo, hi) .type = CHP_CONF_INT, .imin = (lo), .imax = (hi)
#define DBL(lo, hi) .type = CHP_CONF_DOUBLE, .dmin = (lo), .dmax = (hi)
#define BOOL        .type = CHP_CONF_BOOL
#define ENUM(...)   .type = CHP_CONF_ENUM, .enums = {__VA_ARGS__, NULL}

#define G_COMMON CHP_CONF_GROUP_COMMON
#define G_WORKER CHP_CONF_GROUP_WORKER
#define G_CTL    CHP_CONF_GROUP_CONTROLLER
#define G_COLL   CHP_CONF_GROUP_COLLECTOR
#define G_REPORT CHP_CONF_GROUP_REPORT

#define F_NONEMPTY CHP_CONF_F_NONEMPTY
#define F_LIST     CHP_CONF_F_LIST
#define F_TOPIC    CHP_CONF_F_TOPIC
#define F_URL      CHP_CONF_F_URL
#define F_SECRET   CHP_CONF_F_SECRET
#define G_DAEMONS  CHP_CONF_GROUP_DAEMONS

#endif /* CHP_CONF_TABLE_H */
