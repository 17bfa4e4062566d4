/* chart.c - see chart.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "report/chart.h"

#define W  1000
#define H  280
#define ML 72 /* room for y labels */
#define MR 16
#define MT 34 /* title and legend */
#define MB 40 /* x labels, two lines */
#define PW (W - ML - MR)
#define PH (H - MT - MB)

const char *chart_color(size_t i)
{
    /* Distinguishable, and none of them the red of the loss marks. */
    static const char *const palette[] = {"#1f77b4", "#2ca02c", "#9467bd",
                                          "#ff7f0e", "#17becf", "#8c564b",
                                          "#e377c2", "#7f7f7f"};
    return palette[i % (sizeof(palette) / sizeof(palette[0]))];
}

/* The smallest 1, 2 or 5 times a power of ten >= v (v > 0). */
static double nice(double v)
{
    double p = pow(10, floor(log10(v)));
    double f = v / p;

    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/* v shortly: 950, 12.5k, 3M; latencies keep a decimal under 10. */
static void short_number(double v, char *buf, size_t size)
{
    double a = fabs(v);

    if (a >= 1e9)
        snprintf(buf, size, "%gG", v / 1e9);
    else if (a >= 1e6)
        snprintf(buf, size, "%gM", v / 1e6);
    else if (a >= 1e4)
        snprintf(buf, size, "%gk", v / 1e3);
    else
        snprintf(buf, size, "%g", v);
}

typedef struct scale {
    int64_t x0, x1;
    double ymin, ymax; /* ymin <= 0 < ymax */
} scale_t;

static double px(const scale_t *s, int64_t x)
{
    if (s->x1 == s->x0)
        return ML + PW / 2.0;
    return ML + (double)(x - s->x0) / (double)(s->x1 - s->x0) * PW;
}

static double py(const scale_t *s, double y)
{
    return MT + PH - (y - s->ymin) / (s->ymax - s->ymin) * PH;
}

static void axes(chp_buf_t *b, const chart_t *c, const scale_t *s, double step)
{
    size_t every = c->n > 8 ? (c->n + 7) / 8 : 1;
    int last_day = -1;

    for (double y = s->ymin; y <= s->ymax + step * 1e-9; y += step) {
        char label[32];
        short_number(y, label, sizeof(label));
        chp_buf_printf(b,
                       "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" "
                       "y2=\"%.1f\"/><text class=\"ylab\" x=\"%d\" "
                       "y=\"%.1f\" text-anchor=\"end\">%s%s</text>\n",
                       ML, W - MR, py(s, y), py(s, y), ML - 6, py(s, y) + 4,
                       label, c->unit);
    }
    for (size_t i = 0; i < c->n; i += every) {
        time_t t = (time_t)c->x[i];
        struct tm tm;
        char hm[16], day[16];
        if (!gmtime_r(&t, &tm))
            continue;
        strftime(hm, sizeof(hm), "%H:%M", &tm);
        strftime(day, sizeof(day), "%m-%d", &tm);
        chp_buf_printf(b,
                       "<text class=\"xlab\" x=\"%.1f\" y=\"%d\" "
                       "text-anchor=\"middle\">%s",
                       px(s, c->x[i]), H - MB + 16, hm);
        if (tm.tm_yday != last_day)
            chp_buf_printf(b, "<tspan x=\"%.1f\" dy=\"14\">%s</tspan>",
                           px(s, c->x[i]), day);
        chp_buf_puts(b, "</text>\n");
        last_day = tm.tm_yday;
    }
    chp_buf_printf(b,
                   "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" "
                   "y2=\"%.1f\"/>\n",
                   ML, W - MR, py(s, 0), py(s, 0));
}

/* Highlight bands: loss (red) and open buckets (grey), behind the lines. */
static void bands(chp_buf_t *b, const chart_t *c, const scale_t *s)
{
    double bw = s->x1 > s->x0 && c->width_s > 0
                    ? (double)c->width_s / (double)(s->x1 - s->x0) * PW
                    : 40;

    if (bw < 4)
        bw = 4;
    for (size_t i = 0; i < c->n; i++) {
        const char *cls = c->band && c->band[i]   ? "band"
                          : c->open && c->open[i] ? "open"
                                                  : NULL;
        char when[32];
        time_t t = (time_t)c->x[i];
        struct tm tm;
        if (!cls)
            continue;
        if (!gmtime_r(&t, &tm) ||
            !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
            snprintf(when, sizeof(when), "%lld", (long long)c->x[i]);
        chp_buf_printf(b,
                       "<rect class=\"%s\" data-time=\"%s\" x=\"%.1f\" "
                       "y=\"%d\" width=\"%.1f\" height=\"%d\"><title>%s "
                       "%s</title></rect>\n",
                       cls, when, px(s, c->x[i]) - bw / 2, MT, bw, PH, when,
                       !strcmp(cls, "band") ? "loss" : "open (still filling)");
    }
}

static size_t series_svg(chp_buf_t *b, const chart_t *c, const scale_t *s,
                         size_t k)
{
    const chart_series_t *se = &c->series[k];
    const char *color = se->color ? se->color : chart_color(k);
    bool in_line = false;
    size_t points = 0;

    for (size_t i = 0; i < c->n; i++) { /* the line, broken at gaps */
        if (!isfinite(se->y[i])) {
            if (in_line)
                chp_buf_puts(b, "\"/>\n");
            in_line = false;
            continue;
        }
        if (!in_line)
            chp_buf_printf(b,
                           "<polyline class=\"line\" stroke=\"%s\" "
                           "points=\"",
                           color);
        chp_buf_printf(b, "%s%.1f,%.1f", in_line ? " " : "", px(s, c->x[i]),
                       py(s, se->y[i]));
        in_line = true;
    }
    if (in_line)
        chp_buf_puts(b, "\"/>\n");
    for (size_t i = 0; i < c->n; i++) {
        bool loss = se->mark && se->mark[i];
        char when[32], val[32];
        time_t t = (time_t)c->x[i];
        struct tm tm;
        if (!isfinite(se->y[i]))
            continue;
        if (!gmtime_r(&t, &tm) ||
            !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
            snprintf(when, sizeof(when), "%lld", (long long)c->x[i]);
        snprintf(val, sizeof(val), "%.10g", se->y[i]);
        chp_buf_printf(b,
                       "<circle class=\"%s%s\" cx=\"%.1f\" cy=\"%.1f\" "
                       "r=\"%d\" fill=\"%s\" data-tier=\"",
                       c->point_class, loss ? " loss" : "", px(s, c->x[i]),
                       py(s, se->y[i]), loss ? 5 : 3, loss ? "#d62728" : color);
        chp_buf_html(b, se->name);
        chp_buf_printf(b, "\" data-time=\"%s\" data-value=\"%s\"><title>", when,
                       val);
        chp_buf_html(b, se->name);
        chp_buf_printf(b, " %s: %s%s%s</title></circle>\n", when, val, c->unit,
                       loss ? " (loss)" : "");
        points++;
    }
    return points;
}

static void legend(chp_buf_t *b, const chart_t *c)
{
    double x = W - MR;

    /* Right-aligned: laid out from the right, about 7 px per character. */
    for (size_t k = c->n_series; k-- > 0;) {
        size_t len = strlen(c->series[k].name);
        x -= 18 + 7.0 * (double)(len > 40 ? 40 : len);
        chp_buf_printf(b,
                       "<rect x=\"%.1f\" y=\"10\" width=\"10\" height=\"10\" "
                       "fill=\"%s\"/><text class=\"legend\" x=\"%.1f\" "
                       "y=\"19\">",
                       x,
                       c->series[k].color ? c->series[k].color : chart_color(k),
                       x + 14);
        chp_buf_html(b, c->series[k].name);
        chp_buf_puts(b, "</text>\n");
    }
}

size_t chart_svg(chp_buf_t *b, const chart_t *c)
{
    scale_t s = {.x0 = c->n ? c->x[0] : 0, .x1 = c->n ? c->x[c->n - 1] : 0};
    double max = 0, min = 0, step;
    size_t points = 0, mark = 0;
    chp_buf_t body = {0};

    for (size_t k = 0; k < c->n_series; k++)
        for (size_t i = 0; i < c->n; i++) {
            double y = c->series[k].y[i];
            if (isfinite(y) && y > max)
                max = y;
            if (isfinite(y) && y < min)
                min = y;
        }
    step = nice(max - min > 0 ? (max - min) / 5 : 1);
    s.ymin = floor(min / step) * step;
    s.ymax = ceil(max / step) * step;
    if (s.ymax <= 0)
        s.ymax = step;

    /* The points are counted while drawing, and the count goes in the
     * opening tag: draw into a second buffer first. */
    bands(&body, c, &s);
    axes(&body, c, &s, step);
    for (size_t k = 0; k < c->n_series; k++)
        points += series_svg(&body, c, &s, k);
    legend(&body, c);
    for (size_t i = 0; c->band && i < c->n; i++)
        mark += c->band[i];

    chp_buf_printf(b,
                   "<svg class=\"chart\" id=\"%s\" data-points=\"%zu\" "
                   "data-loss-buckets=\"%zu\" viewBox=\"0 0 %d %d\" "
                   "width=\"%d\" height=\"%d\" role=\"img\" "
                   "xmlns=\"http://www.w3.org/2000/svg\">\n<text "
                   "class=\"title\" x=\"%d\" y=\"20\">",
                   c->id, points, mark, W, H, W, H, ML);
    chp_buf_html(b, c->title);
    chp_buf_puts(b, "</text>\n");
    if (body.failed)
        b->failed = true;
    else if (body.s)
        chp_buf_puts(b, body.s);
    if (c->n == 0)
        chp_buf_printf(b,
                       "<text class=\"empty\" x=\"%d\" y=\"%d\" "
                       "text-anchor=\"middle\">no data</text>\n",
                       ML + PW / 2, MT + PH / 2);
    chp_buf_puts(b, "</svg>\n");
    chp_buf_free(&body);
    return points;
}
