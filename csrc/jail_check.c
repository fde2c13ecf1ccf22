/* The jail description's checker (see jail_exec.h; the format and the ops
 * are pycontain/fn/oneshot/describe.py's): a description is parsed and checked
 * whole, within its bounds, before any op runs (jail_exec.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <string.h>

#include "jail_exec.h"
#include "jail_parts.h"

#define MAGIC "PYCJAIL1" /* as describe.MAGIC */
#define NULL_ARG 0xFFFFFFFFu

const unsigned char *jail_desc;
size_t jail_desc_size, jail_ops_at;
uint32_t jail_op_count;
static size_t stamps_at, stamps_size;
static int loaded;

static uint32_t u32_at(const unsigned char *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

int jail_read_op(const unsigned char *data, size_t *pos, size_t end, struct jail_op *op)
{
    size_t p = *pos;
    if (p > end || end - p < 3)
        return -1;
    op->code = (char)data[p];
    op->nargs = data[p + 1] | data[p + 2] << 8;
    p += 3;
    if (op->nargs > JAIL_MAX_ARGS)
        return -1;
    for (unsigned i = 0; i < op->nargs; i++) {
        if (end - p < 4)
            return -1;
        uint32_t len = u32_at(data + p);
        p += 4;
        op->args[i].len = len;
        op->args[i].s = NULL;
        if (len == NULL_ARG)
            continue;
        if (end - p <= len || data[p + len] != 0)
            return -1;
        op->args[i].s = (const char *)data + p;
        p += (size_t)len + 1;
    }
    *pos = p;
    return 0;
}

int jail_number(const struct jail_arg *a, unsigned long long *out)
{
    unsigned long long value = 0;
    if (!a->s || a->len == 0 || a->len > 20)
        goto invalid;
    for (uint32_t i = 0; i < a->len; i++) {
        unsigned digit = (unsigned char)a->s[i] - '0';
        if (digit > 9 || value > (ULLONG_MAX - digit) / 10)
            goto invalid;
        value = value * 10 + digit;
    }
    *out = value;
    return 0;
invalid:
    errno = EINVAL;
    return -1;
}

int jail_op_shape(char code, unsigned *min, unsigned *max, const char **numeric,
                  const char **nullable)
{
    static const struct {
        char code;
        unsigned min, max;
        const char *numeric, *nullable;
    } shapes[] = {
        {'U', 1, 1, "0", ""}, {'p', 0, 0, "", ""}, {'Q', 2, 2, "", ""}, {'o', 3, 3, "2", ""},
        {'m', 5, 5, "3", "14"}, {'b', 3, 3, "2", ""}, {'l', 2, 2, "", ""}, {'P', 0, 0, "", ""},
        {'Y', 1, 1, "0", ""}, {'u', 2, 2, "1", ""}, {'I', 0, 0, "", ""}, {'Z', 1, 1, "", ""},
        {'z', 1, 1, "", ""}, {'r', 0, 0, "", ""}, {'H', 1, 1, "", ""}, {'R', 3, 3, "012", ""},
        {'A', 2, 2, "1", ""}, {'d', 1, 1, "", ""}, {'W', 2, 2, "01", ""}, {'S', 1, 1, "", ""},
        {'B', 1, 1, "0", ""}, {'G', 0, JAIL_MAX_ARGS, ALL_NUMERIC, ""}, {'g', 1, 1, "0", ""},
        {'V', 1, 1, "0", ""}, {'J', 1, 1, "0", ""}, {'K', 3, 3, "012", ""},
        {'E', 3, JAIL_MAX_ARGS, "1", ""}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        if (shapes[i].code == code) {
            *min = shapes[i].min, *max = shapes[i].max;
            *numeric = shapes[i].numeric, *nullable = shapes[i].nullable;
            return 1;
        }
    return 0;
}

/* Whether op has its shape: its arguments' count, numbers and nulls, and an
 * exec's count of argv between 1 and what it has. */
static int well_formed(const struct jail_op *op)
{
    unsigned min, max;
    const char *numeric, *nullable;
    unsigned long long n;
    if (!jail_op_shape(op->code, &min, &max, &numeric, &nullable) || op->nargs < min
        || op->nargs > max)
        return 0;
    for (unsigned a = 0; a < op->nargs; a++) {
        int is_number = strcmp(numeric, ALL_NUMERIC) == 0
                        || (a < 10 && strchr(numeric, '0' + (int)a));
        if (is_number && jail_number(&op->args[a], &n))
            return 0;
        if (!op->args[a].s && !(a < 10 && strchr(nullable, '0' + (int)a)))
            return 0;
    }
    return op->code != 'E' || (jail_number(&op->args[1], &n) == 0 && n >= 1
                               && n <= op->nargs - 2u);
}

/* Whether the ops from pos are sound: each well formed, the first U making a
 * mount namespace, the last (only it) an exec, a helper's ops (Y) there and
 * neither exec nor another helper; and nothing after them. */
static int ops_are_sound(const unsigned char *data, size_t size, size_t pos, uint32_t count)
{
    static struct jail_op op;
    unsigned long long helped = 0, n;
    for (uint32_t i = 0; i < count; i++) {
        if (jail_read_op(data, &pos, size, &op) || !well_formed(&op)
            || (op.code == 'E') != (i == count - 1) || (helped && op.code == 'Y'))
            return 0;
        if (i == 0 && (op.code != 'U' || jail_number(&op.args[0], &n) || !(n & CLONE_NEWNS)))
            return 0; /* never a mount in the caller's own mount namespace */
        helped = helped ? helped - 1 : 0;
        if (op.code == 'Y' && (jail_number(&op.args[0], &helped) || helped >= count - i - 1))
            return 0;
    }
    return count > 0 && pos == size;
}

int jail_load(const unsigned char *data, size_t size)
{
    static struct jail_op op;
    loaded = 0, jail_op_count = 0;
    if (!data || size < 16 || size > JAIL_MAX_DESCRIPTION || memcmp(data, MAGIC, 8))
        return -1;
    uint32_t stamps = u32_at(data + 8);
    if (stamps > size - 16)
        return -1;
    size_t pos = 12, end = 12 + (size_t)stamps;
    if (stamps && (jail_read_op(data, &pos, end, &op) || pos != end || op.code != 'T'))
        return -1;
    for (unsigned i = 0; stamps && i < op.nargs; i++)
        if (!op.args[i].s)
            return -1;
    uint32_t count = u32_at(data + end);
    if (!ops_are_sound(data, size, end + 4, count))
        return -1;
    jail_desc = data, jail_desc_size = size, stamps_at = 12, stamps_size = stamps;
    jail_ops_at = end + 4, jail_op_count = count, loaded = 1;
    return 0;
}

int jail_stamps(struct jail_op *op)
{
    size_t pos = stamps_at;
    return loaded && stamps_size ? jail_read_op(jail_desc, &pos, stamps_at + stamps_size, op) : -1;
}
