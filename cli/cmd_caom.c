/* cmd_caom.c - obsflow caom: FITS files or header text files -> one CAOM-2.4 document.
 *   obsflow caom --collection C [--blueprint FILE]... [--observation-id ID] [--product-id ID]
 *                [--artifact-uri URI]... [--scheme S]
 *                [--content-length N|- [--content-checksum md5:HEX]]... [--no-content]
 *                [--compute] [--json] [--explain] [-o OUT] FILE...
 * Exit codes: 0 written; 1 bad input or processing error (one message naming the file, HDU
 * or blueprint line); 2 usage error.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom_build.h"

#include "caom/caom.h"
#include "core/atomic_file.h"
#include "core/err.h"
#include "core/str.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_cmd_caom(int argc, char **argv);
extern const char cli_help_caom[];
const char cli_help_caom[] = "FITS headers + blueprint -> a CAOM-2.4 observation document";

static void caom_cli_usage(FILE *f)
{
    fprintf(f, "usage: obsflow caom --collection C [--blueprint FILE]... [--observation-id ID]\n"
               "                    [--product-id ID] [--artifact-uri URI]... [--scheme S]\n"
               "                    [--content-length N|- [--content-checksum md5:HEX]]...\n"
               "                    [--no-content] [--compute] [--json] [--explain]\n"
               "                    [-o OUT] FILE...\n");
}

static void caom_cli_help(void)
{
    caom_cli_usage(stdout);
    fputs("\nFITS files or header text files -> one CAOM-2.4 observation (one plane, one artifact\n"
          "per file, one part per HDU).\n\n"
          "  --collection C       the collection (required)\n"
          "  --blueprint FILE     a blueprint; repeat to layer them, later rules win. Syntax,\n"
          "                       expressions (:=, let, table) and every function:\n"
          "                       lib/blueprint/README.md\n"
          "  --observation-id ID  the observation ID (default: blueprint, else the file name)\n"
          "  --product-id ID      the plane's product ID (default: as the observation ID)\n"
          "  --artifact-uri URI   one per FILE, in order (default: cadc:C/<file name>)\n"
          "  --scheme S           URI scheme of the default artifact URIs (default cadc)\n"
          "  --content-length N   one per FILE, in order: the byte count the storage reports\n"
          "                       for the file (its HEAD), the artifact's contentLength;\n"
          "                       nothing is measured from that FILE, which may hold only\n"
          "                       its headers (0: measure the file; \"-\": the storage\n"
          "                       reported no length, none is written)\n"
          "  --content-checksum md5:HEX\n"
          "                       one per FILE, with --content-length: the checksum URI the\n"
          "                       storage reports (\"-\": none), the artifact's\n"
          "                       contentChecksum\n"
          "  --no-content         no contentLength / md5 contentChecksum at all\n"
          "  --compute            compute the plane's position, energy, time, polarization\n"
          "  --json               write JSON instead of XML\n"
          "  --explain            list on stderr every blueprint rule evaluated: the element,\n"
          "                       its value or \"no value\", the rule and its file and line\n"
          "  -o, --output OUT     write to OUT (default standard output)\n"
          "\nExit codes: 0 written; 1 bad input (the message names the file, HDU or blueprint\n"
          "line); 2 usage error.\n", stdout);
}

/* --explain: one line per rule evaluated */
static void caom_cli_explain(void *ctx, const char *file, int hdu, const struct bp_rule *r,
                             const char *value)
{
    FILE *f = ctx;
    const char *let = strncmp(r->key, "let:", 4) == 0 ? r->key + 4 : NULL;
    if (let) {
        fprintf(f, "explain: %s HDU %d: let %s", file, hdu, let);
    } else {
        fprintf(f, "explain: %s HDU %d: %s", file, hdu, r->key);
    }
    if (value) {
        fprintf(f, " = %s", value);
    } else {
        fputs(": no value", f);
    }
    fprintf(f, "   [blueprint \"%s\" line %d: ", r->file, r->line);
    switch (r->kind) {
    case BP_LOOKUP:
        fputs("[", f);
        for (size_t i = 0; i < r->nkeywords; i++) {
            fprintf(f, "%s'%s'", i ? ", " : "", r->keywords[i]);
        }
        fprintf(f, "], default = %s", r->deflt ? r->deflt : "None");
        break;
    case BP_LITERAL: fputs(r->literal, f); break;
    case BP_UNSET: fputs("None", f); break;
    case BP_FUNC:
        fprintf(f, "%s(", r->func);
        for (size_t i = 0; i < r->nkeywords; i++) {
            fprintf(f, "%s%s", i ? ", " : "", r->keywords[i]);
        }
        fputs(")", f);
        break;
    case BP_EXPR: fprintf(f, "%s %s", let ? "=" : ":=", r->literal); break;
    }
    fputs("]\n", f);
}

static int caom_cli_fail(const struct err_info *ei, enum err e)
{
    fprintf(stderr, "obsflow caom: %s\n", ei->msg[0] ? ei->msg : err_str(e));
    return 1;
}

static enum err caom_cli_write(const char *path, const char *data, size_t len,
                               struct err_info *ei)
{
    if (!path || strcmp(path, "-") == 0) {
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
            return err_set(ei, ERR_IO, "could not write the document to standard output");
        }
        return ERR_OK;
    }
    return atomic_file_put(path, data, len, true, ei);
}

int cli_cmd_caom(int argc, char **argv)
{
    static const struct option longopts[] = {
        CAOM_BUILD_LONGOPTS,
        {"json", no_argument, NULL, 'j'},
        {"explain", no_argument, NULL, 'x'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct caom_build build;
    bool as_json = false;
    const char *outpath = NULL;
    struct err_info ei;
    struct caom_observation *obs = NULL;
    char *doc = NULL;
    size_t doclen = 0;
    size_t nfiles = 0;
    int rc = 1;
    enum err e;
    int ch;

    err_info_clear(&ei);
    caom_build_init(&build, "caom");
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        int taken = caom_build_option(&build, ch, optarg, "caom");
        if (taken < 0) {
            return 2;
        }
        if (taken > 0) {
            continue;
        }
        switch (ch) {
        case 'j': as_json = true; break;
        case 'x':
            build.opts.explain = caom_cli_explain;
            build.opts.explain_ctx = stderr;
            break;
        case 'o': outpath = optarg; break;
        case 'h': caom_cli_help(); return 0;
        default: caom_cli_usage(stderr); return 2;
        }
    }
    nfiles = (size_t)(argc - optind);
    if ((rc = caom_build_check(&build, nfiles, "caom", caom_cli_usage)) != 0) {
        return rc;
    }
    rc = 1;
    if ((e = caom_build_run(&build, argv + optind, nfiles, &obs, &ei)) != ERR_OK) {
        rc = caom_cli_fail(&ei, e);
        goto out;
    }
    if (as_json) {
        json_t *j = caom_to_json(obs);
        doc = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17))
                : NULL;
        json_decref(j);
        if (!doc) {
            fprintf(stderr, "obsflow caom: could not render JSON\n");
            goto out;
        }
        doclen = strlen(doc);
        char *nl = realloc(doc, doclen + 2);
        if (!nl) {
            fprintf(stderr, "obsflow caom: out of memory\n");
            goto out;
        }
        doc = nl;
        doc[doclen++] = '\n';
        doc[doclen] = '\0';
    } else {
        if ((e = caom_xml_write(obs, &doc, &doclen, &ei)) != ERR_OK) {
            rc = caom_cli_fail(&ei, e);
            goto out;
        }
        const char *xsd = getenv("OBSFLOW_CAOM_XSD");
        if (xsd && *xsd && (e = caom_xml_validate(doc, doclen, xsd, &ei)) != ERR_OK) {
            rc = caom_cli_fail(&ei, e);
            goto out;
        }
    }
    if ((e = caom_cli_write(outpath, doc, doclen, &ei)) != ERR_OK) {
        rc = caom_cli_fail(&ei, e);
        goto out;
    }
    rc = 0;
out:
    free(doc);
    caom_observation_free(obs);
    return rc;
}
