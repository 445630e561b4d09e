/* cmd_caom.c - obsflow caom: FITS files or header text files -> one CAOM-2.4 document.
 *   obsflow caom --collection C [--blueprint FILE]... [--observation-id ID] [--product-id ID]
 *                [--artifact-uri URI]... [--scheme S] [--no-content] [--compute] [--json]
 *                [-o OUT] FILE...
 * Exit codes: 0 written; 1 bad input or processing error (one message naming the file, HDU
 * or blueprint line); 2 usage error.
 * SPDX-License-Identifier: Apache-2.0 */
#include "blueprint/blueprint.h"
#include "caom/caom.h"
#include "core/err.h"
#include "core/str.h"
#include "fits/fits.h"
#include "fits2caom/fits2caom.h"

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

#define CAOM_CLI_MAX_FILES      1000 /* input files (and --artifact-uri options) */
#define CAOM_CLI_MAX_BLUEPRINTS 64   /* --blueprint options */

static void caom_cli_usage(FILE *f)
{
    fprintf(f, "usage: obsflow caom --collection C [--blueprint FILE]... [--observation-id ID]\n"
               "                    [--product-id ID] [--artifact-uri URI]... [--scheme S]\n"
               "                    [--no-content] [--compute] [--json] [-o OUT] FILE...\n");
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
    char tmp[4096];
    int k = snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    if (k < 0 || (size_t)k >= sizeof tmp) {
        return err_set(ei, ERR_INVALID, "output path too long: \"%s\"", path);
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        return err_set(ei, ERR_IO, "could not create \"%s\": %s", tmp, strerror(errno));
    }
    bool ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        return err_set(ei, ERR_IO, "could not write \"%s\": %s", path, strerror(saved));
    }
    return ERR_OK;
}

int cli_cmd_caom(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"collection", required_argument, NULL, 'c'},
        {"blueprint", required_argument, NULL, 'b'},
        {"observation-id", required_argument, NULL, 'O'},
        {"product-id", required_argument, NULL, 'P'},
        {"artifact-uri", required_argument, NULL, 'u'},
        {"scheme", required_argument, NULL, 's'},
        {"no-content", no_argument, NULL, 'n'},
        {"compute", no_argument, NULL, 'C'},
        {"json", no_argument, NULL, 'j'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct f2c_opts opts = {.content_metadata = true};
    const char *blueprints[CAOM_CLI_MAX_BLUEPRINTS];
    size_t nbp = 0;
    const char *uris[CAOM_CLI_MAX_FILES];
    size_t nuris = 0;
    bool compute = false;
    bool as_json = false;
    const char *outpath = NULL;
    struct err_info ei;
    struct bp *bp = NULL;
    struct fhdr_file **files = NULL;
    struct f2c_input *in = NULL;
    struct caom_observation *obs = NULL;
    char *doc = NULL;
    size_t doclen = 0;
    size_t nfiles = 0;
    int rc = 1;
    enum err e;
    int ch;

    err_info_clear(&ei);
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': opts.collection = optarg; break;
        case 'b':
            if (nbp == ARRAY_LEN(blueprints)) {
                fprintf(stderr, "obsflow caom: too many --blueprint options\n");
                return 2;
            }
            blueprints[nbp++] = optarg;
            break;
        case 'O': opts.observation_id = optarg; break;
        case 'P': opts.product_id = optarg; break;
        case 'u':
            if (nuris == ARRAY_LEN(uris)) {
                fprintf(stderr, "obsflow caom: too many --artifact-uri options\n");
                return 2;
            }
            uris[nuris++] = optarg;
            break;
        case 's': opts.scheme = optarg; break;
        case 'n': opts.content_metadata = false; break;
        case 'C': compute = true; break;
        case 'j': as_json = true; break;
        case 'o': outpath = optarg; break;
        case 'h': caom_cli_usage(stdout); return 0;
        default: caom_cli_usage(stderr); return 2;
        }
    }
    nfiles = (size_t)(argc - optind);
    if (!opts.collection || nfiles == 0) {
        fprintf(stderr, "obsflow caom: %s\n",
                !opts.collection ? "--collection is required" : "no input files");
        caom_cli_usage(stderr);
        return 2;
    }
    if (nfiles > CAOM_CLI_MAX_FILES) {
        fprintf(stderr, "obsflow caom: more than %d input files\n", CAOM_CLI_MAX_FILES);
        return 2;
    }
    if (nuris > 0 && nuris != nfiles) {
        fprintf(stderr, "obsflow caom: %zu --artifact-uri options for %zu files (give one per "
                        "file, in order)\n", nuris, nfiles);
        return 2;
    }
    if ((e = bp_new(&bp, &ei)) != ERR_OK) {
        rc = caom_cli_fail(&ei, e);
        goto out;
    }
    for (size_t i = 0; i < nbp; i++) {
        if ((e = bp_load_file(bp, blueprints[i], &ei)) != ERR_OK) {
            rc = caom_cli_fail(&ei, e);
            goto out;
        }
    }
    files = calloc(nfiles, sizeof *files);
    in = calloc(nfiles, sizeof *in);
    if (!files || !in) {
        fprintf(stderr, "obsflow caom: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < nfiles; i++) {
        const char *path = argv[optind + (int)i];
        if ((e = fhdr_file_open(path, &files[i], &ei)) != ERR_OK) {
            rc = caom_cli_fail(&ei, e);
            goto out;
        }
        in[i].headers = files[i];
        in[i].path = path;
        in[i].artifact_uri = nuris ? uris[i] : NULL;
    }
    if ((e = f2c_build(bp, &opts, in, nfiles, &obs, &ei)) != ERR_OK) {
        rc = caom_cli_fail(&ei, e);
        goto out;
    }
    if (compute) {
        struct caom_compute_opts copts = {.pix2sky = f2c_pix2sky, .pix2sky_ctx = NULL};
        if ((e = caom_observation_compute(obs, &copts, &ei)) != ERR_OK) {
            rc = caom_cli_fail(&ei, e);
            goto out;
        }
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
    for (size_t i = 0; files && i < nfiles; i++) {
        fhdr_file_destroy(files[i]);
    }
    free(files);
    free(in);
    bp_free(bp);
    return rc;
}
