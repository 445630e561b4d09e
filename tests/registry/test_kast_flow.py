#!/usr/bin/env python3
"""test_kast_flow.py - calibration products end to end through the registry (issue 13 item 3),
with the Lick/Kast blue set and the real obsflowd:

 1. a `combine` job makes the master bias from the two raw biases, publishes it by the
    profile's file template, registers the raw frames and the master (provenance: the raws)
    and certifies it into the CALIBRATION collection KAST/calib over May 2015;
 2. a `combine` job makes the master flat from the two dome flats, minus the certified master
    bias it finds in KAST/calib (provenance: the flats, the bias as a reference);
 3. a `dataset` job calibrates the science frame with the certified masters, its raw frame and
    _cal product published where the profile's file template puts them: the product
    is bit-identical (SCI, ERR, DQ data) to `obsflow combine`/`obsflow calibrate --ccdproc`
    run by hand on the same files (that chain equals python3-ccdproc: calib_kast_ccdproc),
    and the registry links all of it: the product's parents are its raw frame and both
    masters, the bias's children the flat and the product;
 4. a second bias certified over the same range is refused (registry_conflict naming the first
    master and its range) and nothing is certified;
 5. two CALIBRATION collections chained in order: find-first picks the first one's bias;
 6. an exposure straddling two validity ranges: the dataset fails with BESTREFS_ERROR naming
    both candidates; no calibration at all: BESTREFS_ERROR naming what is missing;
 7. bad combine params are 422s naming the field.

SPDX-License-Identifier: Apache-2.0
"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from apitest import BIN_DIR, SRC_DIR, TMP, Daemon, check, main, wait_until  # noqa: E402
from apitest import FITS, CONF, wait_end as _wait_end  # noqa: E402

OSCAN, TRIM, GAIN, RDNOISE = "[2050:2080,1:350]", "[1:2048,1:350]", "1.2", "3.7"
FRAMES = ("b21_bias", "b22_bias", "b11_domeflat", "b12_domeflat", "b27_science")


def hdu_data(path):
    """{EXTNAME or index: data bytes} of a FITS file, read block by block (no astropy)."""
    out, idx = {}, 0
    with open(path, "rb") as f:
        buf = f.read()
    pos = 0
    while pos < len(buf):
        cards, end = {}, False
        while not end:
            block = buf[pos:pos + 2880]
            pos += 2880
            for i in range(0, 2880, 80):
                c = block[i:i + 80].decode("ascii")
                k = c[:8].strip()
                if k == "END":
                    end = True
                    break
                if c[8:10] == "= ":
                    cards[k] = c[10:].split("/")[0].strip().strip("'").strip()
        n = abs(int(cards.get("BITPIX", 8))) // 8
        naxis = int(cards.get("NAXIS", 0))
        size = n
        for a in range(1, naxis + 1):
            size *= int(cards["NAXIS%d" % a])
        if naxis == 0:
            size = 0
        out[cards.get("EXTNAME", str(idx))] = buf[pos:pos + size]
        pos += (size + 2879) // 2880 * 2880
        idx += 1
    return out


def same_pixels(a, b, what):
    da, db = hdu_data(a), hdu_data(b)
    for ext in ("SCI", "ERR", "DQ"):
        check(ext in da and ext in db, "%s: %s missing (%s / %s)" % (what, ext, sorted(da),
                                                                    sorted(db)))
        check(da[ext] == db[ext], "%s: %s differs from the hand-run chain" % (what, ext))
    print("ok: %s SCI/ERR/DQ bit-identical to obsflow combine/calibrate run by hand" % what)


def cli(*args):
    p = subprocess.run([os.path.join(BIN_DIR, "obsflow")] + list(args), capture_output=True,
                       text=True)
    check(p.returncode == 0, "obsflow %s: %s" % (" ".join(args), p.stderr))


def by_hand(dst):
    """The Kast chain with the CLI (as calib_kast_ccdproc runs it against ccdproc)."""
    os.makedirs(dst)
    o = lambda n: os.path.join(dst, n)  # noqa: E731
    raw = lambda n: os.path.join(FITS, "kastb_%s.fits" % n)  # noqa: E731
    pre = ["calibrate", "--ccdproc", "--overscan", OSCAN, "--trim", TRIM]
    for n in ("b21_bias", "b22_bias"):
        cli(*pre, "-o", o(n + ".fits"), raw(n))
    cli("combine", "--ccdproc", "--method", "average", "--sigma-clip", "3,3", "-o",
        o("mbias.fits"), o("b21_bias.fits"), o("b22_bias.fits"))
    for n in ("b11_domeflat", "b12_domeflat"):
        cli(*pre, "--bias", o("mbias.fits"), "-o", o(n + ".fits"), raw(n))
    cli("combine", "--ccdproc", "--method", "median", "-o", o("mflat.fits"),
        o("b11_domeflat.fits"), o("b12_domeflat.fits"))
    cli(*pre, "--gain", GAIN, "--readnoise", RDNOISE, "--bias", o("mbias.fits"), "--flat",
        o("mflat.fits"), "-o", o("sci.fits"), raw("b27_science"))
    return o


def wait_end(d, jid, timeout=180):
    return _wait_end(d, jid, timeout)


def expect(d, method, path, body, status, what):
    st, _, b = d.request(method, path, body)
    check(st == status, "%s: %s %s answered %s (wanted %s): %s" % (what, method, path, st,
                                                                   status, b))
    return b


def profile(conf, name, out, calibrations):
    # a run per job ({job}): one RUN holds one dataset per type and data ID, and the science
    # frame is processed several times the same day here
    with open(os.path.join(conf, "profiles", name + ".yaml"), "w") as f:
        f.write("name: %s\ncollection: KAST\nblueprints: [kast.blueprint]\n"
                "dataset_rule: '^kast[br]_'\ninstrument: KAST\n"
                "registry_run: 'KAST/runs/{date}/{job}'\ncalibrations: %s\npreviews: false\n"
                "ccd: {overscan: '%s', trim: '%s', gain: %s, readnoise: %s, "
                "arithmetic: ccdproc}\n"
                "file_template: '{run}/{dataset_type}/{instrument}/"
                "{dataset_type}_{instrument}_{id}.fits'\n"
                "output: 'file:%s/{dataset}'\n"
                % (name, calibrations, OSCAN, TRIM, GAIN, RDNOISE, out))


def combine(d, inp, out, typ, frames, certify=None, profile_name="kastccd"):
    params = {"profile": profile_name, "type": typ, "output": "file:" + out,
              "inputs": ["file:%s/kastb_%s.fits" % (inp, n) for n in frames]}
    if certify:
        params["certify"] = certify
    j = d.submit({"kind": "combine", "max_attempts": 1, "params": params})
    return wait_end(d, j["id"])


def dataset(d, inp, profile_name):
    j = d.submit({"kind": "dataset", "max_attempts": 1,
                  "params": {"dataset": "kastb_b27_science", "input": "file:" + inp,
                             "profile": profile_name, "collection": "KAST"}})
    return wait_end(d, j["id"])


MAY = {"begin": "2015-05-01", "end": "2015-06-01"}


def run(db):
    root = os.path.realpath(os.path.join(TMP, "kastflow.%d" % os.getpid()))
    shutil.rmtree(root, ignore_errors=True)
    conf, inp, work, out = (os.path.join(root, n) for n in ("conf", "in", "work", "out"))
    shutil.copytree(CONF, conf)
    for p in (inp, work, out):
        os.makedirs(p)
    for n in FRAMES:
        shutil.copyfile(os.path.join(FITS, "kastb_%s.fits" % n),
                        os.path.join(inp, "kastb_%s.fits" % n))
    with open(os.path.join(conf, "datasets.yaml"), "w") as f:
        f.write("collections:\n  - name: kast\n"
                "    pattern: '(?<instrument>kast[br])_(?<frame>b[0-9]+)_(?<kind>[a-z]+)'\n")
    profile(conf, "kastccd", out, "[KAST/calib]")
    profile(conf, "kastchain", out + "/chain", "[KAST/chain]")
    profile(conf, "kastamb", out + "/amb", "[KAST/amb]")
    profile(conf, "kastnone", out + "/none", "[KAST/nothing]")
    hand = by_hand(os.path.join(root, "hand"))

    env = {"OBSFLOW_CONFIG_DIR": conf, "OBSFLOW_DATA_ROOTS": root, "OBSFLOW_WORK_DIR": work,
           "OBSFLOW_CAOM_COLLECTIONS": "*"}
    d = Daemon(db.url, name="kastflow", workers=2, env=env)

    # 7. bad params: 422 naming the field, nothing queued
    for params, field in (({"profile": "kastccd", "type": "dark", "output": "file:" + out,
                            "inputs": ["file:%s/kastb_b21_bias.fits" % inp]}, "params.type"),
                          ({"profile": "kast", "type": "bias", "output": "file:" + out,
                            "inputs": ["file:%s/kastb_b21_bias.fits" % inp]}, "params.profile"),
                          ({"profile": "kastccd", "type": "bias", "output": "file:" + out,
                            "inputs": []}, "params.inputs"),
                          ({"profile": "kastccd", "type": "bias", "output": "file:" + out,
                            "inputs": ["file:%s/kastb_b21_bias.fits" % inp],
                            "certify": {"collection": "KAST/calib", "begin": "May 2015"}},
                           "params.certify.begin")):
        b = expect(d, "POST", "/v1/jobs", {"kind": "combine", "params": params}, 422,
                   "bad combine params")
        check(field in str(b), "the 422 names %s: %s" % (field, b))
    print("ok: bad combine params are 422s naming the field")
    # a frame that is not there, an output outside the data roots: failed at once, named
    for inputs, output, code, named in (
            (["file:%s/kastb_b21_bias.fits" % inp, "file:%s/nope.fits" % inp], out,
             "invalid_input", "nope.fits"),
            (["file:%s/kastb_b21_bias.fits" % inp], "/nowhere", "publish_failed", "")):
        j = d.submit({"kind": "combine", "max_attempts": 3,
                      "params": {"profile": "kastccd", "type": "bias", "inputs": inputs,
                                 "output": "file:" + output}})
        b = wait_end(d, j["id"])
        check(b["state"] == "failed" and b["attempts"] == 1 and b["error"]["code"] == code and
              named in b["error"]["message"], "bad combine input: %s" % b)
    print("ok: a missing frame and a refused output fail at once, named")

    # 1. master bias, certified
    b = combine(d, inp, out, "bias", ("b21_bias", "b22_bias"),
                dict(MAY, collection="KAST/calib"))
    check(b["state"] == "succeeded", "bias combine: %s" % b)
    bias = b["result"]["master"]
    run_name = b["result"]["run"]
    check(run_name == "KAST/runs/%s/%s/bias-%s" % (run_name.split("/")[2], b["id"], b["id"]),
          "run %s (registry_run with {date} and {job}, then the master's own)" % run_name)
    want = "file:%s/%s/bias/KAST/bias_KAST_%s.fits" % (out, run_name.replace("/", "_"),
                                                      bias["id"])
    check(bias["uri"] == want, "master bias at %s, wanted %s (the file template)" %
          (bias["uri"], want))
    same_pixels(bias["uri"][5:], hand("mbias.fits"), "master bias")
    check(b["result"]["certified"]["certified"] == 1, "certified: %s" % b["result"])

    # 2. master flat with the certified bias
    f = combine(d, inp, out, "flat", ("b11_domeflat", "b12_domeflat"),
                dict(MAY, collection="KAST/calib"))
    check(f["state"] == "succeeded", "flat combine: %s" % f)
    flat = f["result"]["master"]
    check(f["result"]["references"] == [bias["id"]], "the flat used the certified bias: %s" %
          f["result"])
    same_pixels(flat["uri"][5:], hand("mflat.fits"), "master flat")

    # 3. the science frame with both
    s = dataset(d, inp, "kastccd")
    check(s["state"] == "succeeded", "science dataset: %s" % s)
    refs = {r["type"]: r["id"] for r in s["result"].get("references", [])}
    check(refs == {"bias": bias["id"], "flat": flat["id"]}, "references %s" % refs)
    cal = [p for p in s["result"]["products"] if p["uri"].startswith("file:" + out) and
           "/cal/KAST/cal_KAST_" in p["uri"]]
    check(len(cal) == 1, "products %s" % s["result"]["products"])
    same_pixels(cal[0]["uri"][5:], hand("sci.fits"), "calibrated science frame")
    ids = s["result"]["registry"]["ids"]
    cal_id = [g["ids"][0] for g in ids if g["dataset_type"] == "cal"][0]
    raw_id = [g["ids"][0] for g in ids if g["dataset_type"] == "raw"][0]
    # the products are where the profile's file template puts them, and registered there
    srun = s["result"]["registry"]["run"].replace("/", "_")
    for typ, did in (("cal", cal_id), ("raw", raw_id)):
        want = "file:%s/kastb_b27_science/%s/%s/KAST/%s_KAST_%s.fits" % (out, srun, typ, typ, did)
        check(want in [p["uri"] for p in s["result"]["products"]],
              "%s product at %s: %s" % (typ, want, s["result"]["products"]))
        g = expect(d, "GET", "/v1/datasets/" + did, None, 200, typ + " dataset")
        check(g["files"][0]["uri"] == want, "%s file record %s" % (typ, g["files"]))
    check([p["type"] for p in s["result"]["products"] if p["uri"] == cal[0]["uri"]] == ["cal"],
          "product type from its name: %s" % cal)
    check(not os.path.exists(os.path.join(out, "kastb_b27_science", "data", "KAST",
                                          "kastb_b27_science", "kastb_b27_science_cal.fits")),
          "nothing in CALDP's place as well")
    g = expect(d, "GET", "/v1/datasets/" + cal_id, None, 200, "cal dataset")
    parents = {(p["id"], p["role"]) for p in g["parents"]}
    check(parents == {(raw_id, "input"), (bias["id"], "reference"), (flat["id"], "reference")},
          "the product's parents: %s" % g["parents"])
    g = expect(d, "GET", "/v1/datasets/" + bias["id"], None, 200, "bias dataset")
    check(len([p for p in g["parents"] if p["role"] == "input"]) == 2,
          "the bias's parents are its two raw frames: %s" % g["parents"])
    kids = {(c["id"], c["role"]) for c in g["children"]}
    check({(flat["id"], "reference"), (cal_id, "reference")} <= kids,
          "the bias's children: %s" % g["children"])
    print("ok: science frame calibrated with the certified masters; provenance links them")
    # the shipped kast-ccd profile (config/profiles) does the same with these masters
    shipped = d.submit({"kind": "dataset", "max_attempts": 1,
                        "params": {"dataset": "kastb_b27_science", "input": "file:" + inp,
                                   "output": "file:%s/shipped" % out, "profile": "kast-ccd"}})
    sh = wait_end(d, shipped["id"])
    check(sh["state"] == "succeeded" and
          {r["type"]: r["id"] for r in sh["result"]["references"]} ==
          {"bias": bias["id"], "flat": flat["id"]}, "shipped kast-ccd profile: %s" % sh)
    shcal = [p for p in sh["result"]["products"] if p["type"] == "cal"]
    check(len(shcal) == 1, "shipped profile's products: %s" % sh["result"]["products"])
    same_pixels(shcal[0]["uri"][5:], hand("sci.fits"), "science frame (shipped kast-ccd profile)")

    # 4. an overlapping certification is refused, naming the certified master and its range
    o = combine(d, inp, out, "bias", ("b21_bias", "b22_bias"),
                {"collection": "KAST/calib", "begin": "2015-05-15", "end": "2015-05-25"})
    check(o["state"] == "failed" and o["error"]["code"] == "registry_conflict" and
          bias["id"] in o["error"]["message"], "overlap: %s" % o)
    look = expect(d, "GET", "/v1/calibrations/lookup?type=bias&collections=KAST/calib&"
                  "instrument=KAST&begin=2015-05-20T04:40:00Z&end=2015-05-20T04:41:00Z", None,
                  200, "lookup after the refused overlap")
    check(look["id"] == bias["id"], "still the first bias: %s" % look)
    print("ok: overlapping certification refused naming %s" % bias["id"])

    # 5. chained CALIBRATION collections: find-first picks the first child's bias
    b2 = combine(d, inp, out, "bias", ("b21_bias", "b22_bias"),
                 dict(MAY, collection="KAST/chain/a"))
    check(b2["state"] == "succeeded", "second bias: %s" % b2)
    bias2 = b2["result"]["master"]["id"]
    for coll, ds, typ in (("KAST/chain/b", bias["id"], "bias"),
                          ("KAST/chain/b", flat["id"], "flat")):
        expect(d, "POST", "/v1/calibrations/certify",
               dict(MAY, collection=coll, dataset_type=typ, datasets=[ds]), 200, "certify " + coll)
    expect(d, "PUT", "/v1/registry/collections",
           {"name": "KAST/chain", "type": "CHAINED", "children": ["KAST/chain/a",
                                                                 "KAST/chain/b"]}, 201, "chain")
    c = dataset(d, inp, "kastchain")
    check(c["state"] == "succeeded", "chained dataset: %s" % c)
    refs = {r["type"]: r["id"] for r in c["result"]["references"]}
    check(refs == {"bias": bias2, "flat": flat["id"]}, "find-first through the chain: %s (a's "
          "bias is %s, b's %s)" % (refs, bias2, bias["id"]))
    print("ok: chained collections: the first child's bias, the second's flat")

    # 6. ambiguous (the exposure 04:37:33-04:57:33 straddles 04:45) and missing
    for ds, rng in ((bias["id"], {"end": "2015-05-20T04:45:00Z"}),
                    (bias2, {"begin": "2015-05-20T04:45:00Z"})):
        expect(d, "POST", "/v1/calibrations/certify",
               dict(rng, collection="KAST/amb", dataset_type="bias", datasets=[ds]), 200,
               "certify KAST/amb")
    a = dataset(d, inp, "kastamb")
    check(a["state"] == "failed" and a["error"]["code"] == "bestrefs_error" and
          bias["id"] in a["error"]["message"] and bias2 in a["error"]["message"], "ambiguous: %s" % a)
    n = dataset(d, inp, "kastnone")
    check(n["state"] == "failed" and n["error"]["code"] == "bestrefs_error" and
          "bias" in n["error"]["message"], "missing: %s" % n)
    print("ok: ambiguous and missing calibrations fail with BESTREFS_ERROR naming them")
    d.stop()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(run, "kastflow")
