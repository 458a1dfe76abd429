/* report_html.c -- HTML, base64 and metrics-JSON helpers of simnet report. */
#include "report_html.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t rep_base64(const unsigned char *in, size_t n, char *out) {
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = B64[v >> 18 & 63];
        out[o++] = B64[v >> 12 & 63];
        out[o++] = B64[v >> 6 & 63];
        out[o++] = B64[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = B64[v >> 18 & 63];
        out[o++] = B64[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = B64[v >> 18 & 63];
        out[o++] = B64[v >> 12 & 63];
        out[o++] = B64[v >> 6 & 63];
        out[o++] = '=';
    }
    out[o] = 0;
    return o;
}

void rep_escape(FILE *f, const char *s) {
    for (; s && *s; s++) switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
}

int rep_embed_png(FILE *f, const char *path, const char *title, const char *caption, char *err,
                  size_t errcap) {
    static const unsigned char SIG[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    FILE *in = fopen(path, "rb");
    if (!in) {
        snprintf(err, errcap, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 1 << 16;
            unsigned char *nb = nc > cap ? realloc(buf, nc) : NULL;
            if (!nb) {
                snprintf(err, errcap, "%s: out of memory reading it", path);
                free(buf);
                fclose(in);
                return -1;
            }
            buf = nb;
            cap = nc;
        }
        size_t got = fread(buf + n, 1, cap - n, in);
        n += got;
        if (got == 0) break;
    }
    int rd_err = ferror(in);
    fclose(in);
    if (rd_err || n < 8 || memcmp(buf, SIG, 8) != 0) {
        snprintf(err, errcap, "%s: %s", path, rd_err ? "read error" : "not a PNG file (bad signature)");
        free(buf);
        return -1;
    }
    char *b64 = malloc(4 * ((n + 2) / 3) + 1);
    if (!b64) {
        snprintf(err, errcap, "%s: out of memory encoding it", path);
        free(buf);
        return -1;
    }
    rep_base64(buf, n, b64);
    fputs("<figure>\n<h3>", f);
    rep_escape(f, title);
    fputs("</h3>\n<img alt=\"", f);
    rep_escape(f, title);
    fputs("\" src=\"data:image/png;base64,", f);
    fputs(b64, f);
    fputs("\">\n<figcaption>", f);
    rep_escape(f, caption);
    fprintf(f, " <span class=\"muted\">(%zu bytes)</span></figcaption>\n</figure>\n", n);
    free(b64);
    free(buf);
    return 0;
}

/* ------------------------------------------------------------ metrics JSON */
typedef struct {
    const char *s;
    size_t i, n;
} jcur;

static void jws(jcur *c) {
    while (c->i < c->n && isspace((unsigned char)c->s[c->i])) c->i++;
}

/* Skip one string starting at '"'; copy up to cap-1 chars into out (may be NULL). */
static int jstring(jcur *c, char *out, size_t cap) {
    size_t k = 0;
    if (c->i >= c->n || c->s[c->i] != '"') return -1;
    for (c->i++; c->i < c->n && c->s[c->i] != '"'; c->i++) {
        if (c->s[c->i] == '\\') c->i++;
        if (out && k + 1 < cap && c->i < c->n) out[k++] = c->s[c->i];
    }
    if (out) out[k] = 0;
    if (c->i >= c->n) return -1;
    c->i++;
    return 0;
}

/* Skip any value (string, number, literal, nested object/array). */
static int jskip(jcur *c) {
    jws(c);
    if (c->i >= c->n) return -1;
    char ch = c->s[c->i];
    if (ch == '"') return jstring(c, NULL, 0);
    if (ch == '{' || ch == '[') {
        int depth = 0;
        while (c->i < c->n) {
            ch = c->s[c->i];
            if (ch == '"') {
                if (jstring(c, NULL, 0)) return -1;
                continue;
            }
            if (ch == '{' || ch == '[') depth++;
            if (ch == '}' || ch == ']') depth--;
            c->i++;
            if (depth == 0) return 0;
        }
        return -1;
    }
    size_t start = c->i;
    while (c->i < c->n && !strchr(",}] \t\r\n", c->s[c->i])) c->i++;
    return c->i > start ? 0 : -1;
}

int rep_read_metrics_json(const char *path, rep_metric *out, int cap, char *err, size_t errcap) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *s = malloc(1 << 20);
    size_t n = s ? fread(s, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!s) {
        snprintf(err, errcap, "%s: out of memory", path);
        return -1;
    }
    s[n] = 0;
    jcur c = {s, 0, n};
    int count = 0;
    jws(&c);
    if (c.i >= n || s[c.i] != '{') {
        snprintf(err, errcap, "%s: byte %zu: expected '{' (a JSON object written by simnet eval "
                              "--json)", path, c.i);
        free(s);
        return -1;
    }
    c.i++;
    for (;;) {
        jws(&c);
        if (c.i < n && s[c.i] == '}') break;
        char key[64];
        size_t at = c.i;
        if (jstring(&c, key, sizeof key)) goto bad;
        jws(&c);
        if (c.i >= n || s[c.i] != ':') goto bad;
        c.i++;
        jws(&c);
        at = c.i;
        char *end = NULL;
        double v = strtod(s + c.i, &end);
        if (end != s + c.i) {
            c.i = (size_t)(end - s);
            if (count < cap) {
                snprintf(out[count].key, sizeof out[count].key, "%s", key);
                out[count++].value = v;
            }
        } else if (!strncmp(s + c.i, "null", 4)) {
            c.i += 4;
            if (count < cap) {
                snprintf(out[count].key, sizeof out[count].key, "%s", key);
                out[count++].value = NAN;
            }
        } else if (jskip(&c)) {
            goto bad;
        }
        jws(&c);
        if (c.i < n && s[c.i] == ',') {
            c.i++;
            continue;
        }
        if (c.i < n && s[c.i] == '}') break;
        at = c.i;
    bad:
        snprintf(err, errcap, "%s: byte %zu: malformed JSON (expected \"key\": value pairs)", path,
                 at);
        free(s);
        return -1;
    }
    free(s);
    return count;
}

/* ------------------------------------------------------------------ page */
void rep_page_begin(FILE *f, const char *title) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
    rep_escape(f, title);
    fputs("</title>\n<style>\n"
          "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;"
          "background:#f6f7f9;color:#1d2330}\n"
          "main{max-width:1100px;margin:0 auto;padding:24px 32px 64px}\n"
          "h1{font-size:26px;margin:8px 0 4px}h2{font-size:20px;margin:32px 0 10px;"
          "border-bottom:2px solid #d9dde5;padding-bottom:4px}h3{font-size:15px;margin:20px 0 8px}\n"
          "figure h3{margin-top:0}\n"
          "section{background:#fff;border:1px solid #e1e4ea;border-radius:8px;padding:16px 20px;"
          "margin:16px 0}\n"
          "table{border-collapse:collapse;font-size:14px}td,th{padding:4px 12px;"
          "border-bottom:1px solid #eceef2;text-align:left}th{background:#f0f2f6}\n"
          "td.num{text-align:right;font-variant-numeric:tabular-nums;font-family:ui-monospace,"
          "monospace}\n"
          "pre{background:#f3f4f7;padding:10px;border-radius:6px;font-size:13px;overflow-x:auto}\n"
          "figure{margin:18px 0;padding:12px;background:#fff;border:1px solid #e1e4ea;"
          "border-radius:8px}\n"
          "figure img{max-width:100%;height:auto;display:block;margin:0 auto}\n"
          "figcaption{font-size:14px;color:#3c4456;margin-top:8px}\n"
          ".muted{color:#7a8294}.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}\n"
          "</style>\n</head>\n<body>\n<main>\n", f);
}

void rep_page_end(FILE *f) { fputs("</main>\n</body>\n</html>\n", f); }
