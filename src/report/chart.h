/* chart.h - line charts as inline SVG, drawn on the server so the
 * dashboard needs no JavaScript and nothing from the network. */
#ifndef CHP_REPORT_CHART_H
#define CHP_REPORT_CHART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct chart_series {
    const char *name;  /* legend and data-tier */
    const double *y;   /* n values; NAN: no point (the line breaks) */
    const bool *mark;  /* n flags: point drawn as a loss, or NULL */
    const char *color; /* NULL: chart_color(index of the series) */
} chart_series_t;

typedef struct chart {
    const char *id; /* the <svg>'s id */
    const char *title;
    const char *unit;        /* appended to y labels ("" or " ms") */
    const char *point_class; /* class of every point: "pt", "lat" */
    const int64_t *x;        /* n bucket starts, increasing */
    size_t n;
    int64_t width_s; /* bucket width, for the highlight bands */
    const chart_series_t *series;
    size_t n_series;
    const bool *band; /* n flags: bucket highlighted (loss), or NULL */
    const bool *open; /* n flags: bucket still open (shaded), or NULL */
} chart_t;

/* Colour of series i (a fixed palette, so a tier keeps its colour in
 * every chart of a page). */
const char *chart_color(size_t i);

/*
 * Appends <svg class="chart" id=.. data-points=N> to b: one polyline per
 * series, one <circle class="<point_class>[ loss]"> per drawn point
 * (data-tier, data-time, data-value; a <title> tooltip), a <rect
 * class="band"> per highlighted bucket, axes with labels, a legend.
 * Returns N, the number of points drawn.
 */
size_t chart_svg(chp_buf_t *b, const chart_t *c);

#endif
