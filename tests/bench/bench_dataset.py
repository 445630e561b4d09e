#!/usr/bin/env python3
"""bench_dataset.py - driver of bench_dataset.sh: memory and time of full-frame datasets.

Makes BENCH_DATASET_COUNT (3) synthetic HST ACS/WFC raw files from the shared j8bt05njq_raw
header (DETECTOR=WFC, two imsets of 4144x2068 int16 pixels with a 24-column prescan, ERR and
DQ as constant arrays), a reference store of WFC-sized constant bias, dark and flat (4096x2048)
named by their headers, and then:
 1. `obsflow process` on one dataset, three times: wall time (best) and peak RSS (getrusage of
    the child, ru_maxrss);
 2. one obsflowd (OBSFLOW_QUEUES=calib=N): one dataset job alone, three times (submit to
    succeeded, best), the ratio to the CLI time; then N dataset jobs at once; obsflowd's peak
    resident set (VmHWM) over the run.
Env as tests/pipeline/test_dataset_job.py (PGHOST of a running cluster).

SPDX-License-Identifier: Apache-2.0
"""
import os
import random
import resource
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from apitest import BIN_DIR, SRC_DIR, TMP, Daemon, check, main, wait_until  # noqa: E402
from make_refs import _card, _header  # noqa: E402

SHARED = os.environ.get("OBSFLOW_SHARED", os.path.join(SRC_DIR, "..", "shared"))
RAW = os.path.join(SHARED, "testdata", "fits", "j8bt05njq_raw.fits")
COUNT = int(os.environ.get("BENCH_DATASET_COUNT", "3"))
NX, NY, PRESCAN = 4144, 2068, 24
REFS = {"BIASFILE": "bench_wfc_bia.fits", "DARKFILE": "bench_wfc_drk.fits",
        "PFLTFILE": "bench_wfc_pfl.fits"}


def cards_of(block_bytes):
    out = []
    for k in range(0, len(block_bytes), 80):
        c = block_bytes[k:k + 80].decode("ascii")
        if c.startswith("END     ") or c.rstrip() == "END":
            break
        out.append(c)
    return out


def primary_cards(name):
    with open(RAW, "rb") as f:
        b = f.read(2880 * 6)
    cards = []
    for c in cards_of(b):
        key = c[:8].strip()
        if key == "DETECTOR":
            c = _card("DETECTOR", "WFC")
        elif key == "CCDAMP":
            c = _card("CCDAMP", "ABCD")
        elif key == "NEXTEND":
            c = _card("NEXTEND", 6)
        elif key in ("FILENAME", "ROOTNAME"):
            c = _card(key, name + "_raw.fits" if key == "FILENAME" else name)
        elif key in REFS:
            c = _card(key, "jref$" + REFS[key])
        elif key in ("DQICORR", "BPIXTAB") or key.endswith("TAB") and key != "OSCNTAB":
            c = _card(key, "OMIT" if key == "DQICORR" else "N/A")
        cards.append(c)
    return cards


def sci_cards(ver):
    """The shared raw file's SCI header with the WFC frame's size, version and prescan."""
    with open(RAW, "rb") as f:
        f.seek(17280)  # the SCI,1 header of j8bt05njq_raw.fits
        b = f.read(2880 * 4)
    new = {"NAXIS1": NX, "NAXIS2": NY, "EXTVER": ver, "LTV1": float(PRESCAN),
           "SIZAXIS1": NX, "SIZAXIS2": NY}
    return [_card(c[:8].strip(), new[c[:8].strip()]) if c[:8].strip() in new else c
            for c in cards_of(b)]


def make_raw(path, name, rnd):
    ext = []
    for v in (1, 2):
        sci = _header(sci_cards(v))
        # bias level ~ 2000 DN plus a little noise, as big-endian uint16 stored minus 32768
        row = bytes(b for x in (rnd.randrange(1990, 2010) - 32768 for _ in range(NX))
                    for b in int.to_bytes(x & 0xFFFF, 2, "big"))
        data = row * NY
        data += b"\0" * (-len(data) % 2880)
        const = []
        for extname, val in (("ERR", 0.0), ("DQ", 0)):
            const.append(_header([_card("XTENSION", "IMAGE"), _card("BITPIX", 16),
                                  _card("NAXIS", 0), _card("PCOUNT", 0), _card("GCOUNT", 1),
                                  _card("EXTNAME", extname), _card("EXTVER", v),
                                  _card("NPIX1", NX), _card("NPIX2", NY),
                                  _card("PIXVALUE", val),
                                  _card("LTV1", float(PRESCAN)), _card("LTV2", 0.0)]))
        ext.append(sci + data + b"".join(const))
    with open(path, "wb") as f:
        f.write(_header(primary_cards(name)) + b"".join(ext))


def make_ref(path, filetype, value):
    primary = _header([_card("SIMPLE", True), _card("BITPIX", 16), _card("NAXIS", 0),
                       _card("EXTEND", True), _card("FILETYPE", filetype),
                       _card("TELESCOP", "HST"), _card("INSTRUME", "ACS"),
                       _card("DETECTOR", "WFC"), _card("CCDAMP", "ABCD"),
                       _card("CCDGAIN", 2.0)])
    sci = _header([_card("XTENSION", "IMAGE"), _card("BITPIX", -32), _card("NAXIS", 0),
                   _card("PCOUNT", 0), _card("GCOUNT", 1), _card("EXTNAME", "SCI"),
                   _card("EXTVER", 1), _card("NPIX1", 4096), _card("NPIX2", 2048),
                   _card("PIXVALUE", float(value)), _card("BUNIT", "ELECTRONS")])
    with open(path, "wb") as f:
        f.write(primary + sci)


def run(db):
    root = os.path.realpath(os.path.join(TMP, "bench_dataset"))
    shutil.rmtree(root, ignore_errors=True)
    inp, out, work, conf = (os.path.join(root, n) for n in ("in", "out", "work", "conf"))
    store = os.path.join(root, "crds", "references", "hst")
    for p in (inp, out, work, store, os.path.join(conf, "expectations")):
        os.makedirs(p)
    # expectations as shipped; no CRDS-style catalog (the header names the references)
    for f in os.listdir(os.path.join(SRC_DIR, "config", "expectations")):
        shutil.copy(os.path.join(SRC_DIR, "config", "expectations", f),
                    os.path.join(conf, "expectations", f))
    rnd = random.Random(7)
    names = ["jbnch%03dq" % i for i in range(COUNT)]
    t0 = time.time()
    for n in names:
        make_raw(os.path.join(inp, n + "_raw.fits"), n, rnd)
    make_ref(os.path.join(store, REFS["BIASFILE"]), "BIAS", 5.0)
    make_ref(os.path.join(store, REFS["DARKFILE"]), "DARK", 0.0)
    make_ref(os.path.join(store, REFS["PFLTFILE"]), "PIXEL-TO-PIXEL FLAT", 1.0)
    size = os.path.getsize(os.path.join(inp, names[0] + "_raw.fits"))
    print("made %d ACS/WFC datasets of 2 x %dx%d (%.1f MB each) in %.1f s" %
          (COUNT, NX, NY, size / 1e6, time.time() - t0), flush=True)
    refenv = {"OBSFLOW_REFERENCE_URI": "file:" + os.path.join(root, "crds"),
              "OBSFLOW_REFERENCE_CACHE": os.path.join(root, "refcache")}

    cli_t, cli_rss = [], []
    for k in range(3):
        e = dict(os.environ, OBSFLOW_WORK_DIR=work, OBSFLOW_NO_PROGRESS="1", **refenv)
        e.pop("OBSFLOW_DATA_ROOTS", None)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t = time.time()
        p = subprocess.run([os.path.join(BIN_DIR, "obsflow"), "process", "--quiet", names[0],
                            "file:" + inp, "file:" + os.path.join(out, "cli%d" % k),
                            "file:" + conf], capture_output=True, text=True, env=e,
                           timeout=600)
        cli_t.append(time.time() - t)
        check(p.returncode == 0, "obsflow process: %d %s" % (p.returncode, p.stderr[-2000:]))
        cli_rss.append(max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
    print("obsflow process %s: %.2f s (best of 3), peak RSS %.0f MiB" %
          (names[0], min(cli_t), max(cli_rss) / 1024.0), flush=True)

    d = Daemon(db.url, name="bench_dataset", env=dict(
        refenv, OBSFLOW_CONFIG_DIR=conf, OBSFLOW_DATA_ROOTS=root, OBSFLOW_WORK_DIR=work,
        OBSFLOW_QUEUES="calib=%d" % COUNT, OBSFLOW_LOG_LEVEL="warn"))
    try:
        def job(name, tag):
            return d.submit({"kind": "dataset", "max_attempts": 1, "params": {
                "dataset": name, "input": "file:" + inp,
                "output": "file:" + os.path.join(out, tag)}})

        def wait(ids):
            def done():
                states = [d.job(j)["state"] for j in ids]
                check("failed" not in states, "a dataset job failed: %s" %
                      [d.job(j).get("error") for j in ids])
                return all(s == "succeeded" for s in states)
            wait_until(done, 900, "dataset jobs", interval=0.02)

        svc, steps = [], []
        for k in range(3):
            t = time.time()
            jid = job(names[0], "one%d" % k)["id"]
            wait([jid])
            svc.append(time.time() - t)
            b = d.job(jid)
            steps.append((b["result"]["steps"], b["result"]["total_ms"], b["created_at"],
                          b["started_at"], b["finished_at"]))
        st, total, c_at, s_at, f_at = steps[svc.index(min(svc))]
        print("dataset job (fastest run): steps %s; pipeline total %d ms; created %s started %s "
              "finished %s" % (", ".join("%s %d" % (x["name"], x["ms"]) for x in st), total,
                               c_at, s_at, f_at), flush=True)
        best_cli, best_svc = min(cli_t), min(svc)
        print("dataset job alone: %.2f s submit-to-succeeded (best of 3); obsflow process %.2f s; "
              "ratio %.2f (target <= 1.10 x CLI + 50 ms = %.2f s: %s)" %
              (best_svc, best_cli, best_svc / best_cli, 1.10 * best_cli + 0.05,
               "met" if best_svc <= 1.10 * best_cli + 0.05 else "SHORT"), flush=True)
        t = time.time()
        wait([job(n, "all")["id"] for n in names])
        took = time.time() - t
        with open("/proc/%d/status" % d.proc.pid) as f:
            hwm = [int(line.split()[1]) for line in f if line.startswith("VmHWM:")][0]
        print("%d dataset jobs at once (calib=%d): %.2f s; obsflowd peak RSS %.0f MiB "
              "(%.0f MiB per running dataset over the CLI's %.0f)" %
              (COUNT, COUNT, took, hwm / 1024.0, hwm / 1024.0 / COUNT, max(cli_rss) / 1024.0),
              flush=True)
        d.stop()
    except AssertionError:
        d.dump_log()
        d.stop()
        raise
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(run, "bench_dataset")
