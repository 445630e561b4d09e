#!/usr/bin/env python3
"""test_readme.py - every command of README.md is run: the README's ```sh blocks, in order, as
one bash script (set -euo pipefail: each command must exit 0) in a scratch copy of the source
tree's layout (build/ -> the binaries under test, config/ -> the shipped configuration,
../shared -> the shared test data, var/data made as `make run` makes it), against the real
obsflowd on port 0 over a fresh database of the ctest PostgreSQL fixture. `make run` itself is
not run (it blocks); the test starts obsflowd as `make run` does, with the same defaults made
explicit, and gives the script its address as OBSFLOW_URL (the README's
`${OBSFLOW_URL:-http://127.0.0.1:8080}`).

Other fences than ```sh (run) and ```text (a picture, the two make commands) are refused, so a
command cannot slip into the README without being run.

Then the tour's end state, read from the API: the dataset job succeeded with its observation
created, HST/j8bt05njq is listed by GET /caom2/observations/HST and has the planes
j8bt05njq_raw and j8bt05njq_flt, the calibrated product is published with the skipped steps
recorded, and the dashboard's job page shows the job succeeded with its observation link
(headless Debian chromium through playwright-core, as tests/web does); its screenshot is
<build>/readme-artifacts/dashboard.png, the README's docs/img/dashboard.png.

SPDX-License-Identifier: Apache-2.0
"""
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from apitest import BIN_DIR, SRC_DIR, TMP, Daemon, check, fail, main  # noqa: E402

SHARED = os.environ.get("OBSFLOW_SHARED", os.path.join(SRC_DIR, "..", "shared"))
RUN_FENCE = "sh"
OTHER_FENCES = ("text",)


def sh_blocks(path):
    """[(first line number, text)] of the ```sh blocks; fails on any other kind of fence."""
    page = os.path.relpath(path, SRC_DIR)
    blocks = []
    cur = None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            m = re.match(r"^(\s*)```(.*)$", line.rstrip("\n"))
            if cur is None and m:
                info = m.group(2).strip()
                check(info == RUN_FENCE or info in OTHER_FENCES,
                      "%s:%d: a ```%s block: commands go in ```sh blocks (run by this "
                      "test), pictures and the make commands in ```text" % (page, n, info))
                check(m.group(1) == "", "%s:%d: an indented fence" % (page, n))
                cur = (n + 1, info, [])
            elif cur is not None and m and m.group(2).strip() == "":
                if cur[1] == RUN_FENCE:
                    blocks.append((cur[0], "".join(cur[2])))
                cur = None
            elif cur is not None:
                cur[2].append(line)
    check(cur is None, "%s: a fence is not closed" % page)
    return blocks


def check_links():
    """Every relative link and image of README.md and docs/*.md names a file of the tree."""
    pages = ["README.md"] + sorted("docs/" + f for f in os.listdir(os.path.join(SRC_DIR, "docs"))
                                   if f.endswith(".md"))
    n = 0
    for page in pages:
        with open(os.path.join(SRC_DIR, page)) as f:
            text = f.read()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            path = os.path.normpath(os.path.join(SRC_DIR, os.path.dirname(page),
                                                 target.split("#")[0]))
            check(os.path.exists(path), "%s links to %s, which does not exist" % (page, target))
            n += 1
    print("ok: %d relative links of README.md and docs/*.md name existing files" % n,
          flush=True)


def make_tree(root):
    """The layout the README's commands assume, with the binaries under test."""
    shutil.rmtree(root, ignore_errors=True)
    proj = os.path.join(root, "obsflow")
    os.makedirs(os.path.join(proj, "var", "data"))  # as `make run` makes it
    os.symlink(os.path.realpath(BIN_DIR), os.path.join(proj, "build"))
    os.symlink(os.path.realpath(os.path.join(SRC_DIR, "config")), os.path.join(proj, "config"))
    os.symlink(os.path.realpath(SHARED), os.path.join(root, "shared"))
    os.makedirs(os.path.join(root, "work"))
    return proj


def script_of(page, blocks):
    out = ["set -euo pipefail",
           "trap 'echo \"FAILED: %s block at line $readme_line: $BASH_COMMAND exited "
           "with $?\" >&2' ERR" % page]
    for line, text in blocks:
        out.append("readme_line=%d; echo '### %s:%d' >&2" % (line, page, line))
        out.append(text.rstrip("\n"))
    return "\n".join(out) + "\n"


def run_page(d, root, proj, page, blocks):
    """Run a page's ```sh blocks as one script in the tree; returns its stdout."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OBSFLOW_") and not k.startswith("AWS_")}
    env.update({"OBSFLOW_URL": "http://" + d.addr, "PWD": proj})
    script = os.path.join(root, os.path.basename(page) + ".sh")
    with open(script, "w") as f:
        f.write(script_of(page, blocks))
    r = subprocess.run(["bash", script], cwd=proj, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=600)
    sys.stdout.write(r.stdout)
    sys.stdout.write(r.stderr)
    sys.stdout.flush()
    if r.returncode != 0:
        d.dump_log()
        fail("the commands of %s exited with %d (see FAILED above)" % (page, r.returncode))
    print("ok: every ```sh block of %s ran, each command exited 0" % page, flush=True)
    return r.stdout


def screenshot(d, jid, artifacts):
    pw = os.path.join(SRC_DIR, "web", "node_modules", "playwright-core")
    check(os.path.isdir(pw), "%s is missing: run tools/deps.sh (npm ci in web/)" % pw)
    check(os.access("/usr/bin/chromium", os.X_OK), "/usr/bin/chromium is missing: run "
          "tools/deps.sh")
    env = dict(os.environ, README_BASE="http://" + d.addr, README_JOB=jid,
               README_ARTIFACTS=artifacts, OBSFLOW_SOURCE_DIR=os.path.abspath(SRC_DIR))
    r = subprocess.run(["node", os.path.join(SRC_DIR, "tests", "readme", "screenshot.js")],
                       env=env, stdin=subprocess.DEVNULL, timeout=300)
    check(r.returncode == 0, "screenshot.js exited with %d" % r.returncode)


def run(db):
    check_links()
    root = os.path.realpath(os.path.join(TMP, "tree"))
    proj = make_tree(root)
    blocks = sh_blocks(os.path.join(SRC_DIR, "README.md"))
    cli_blocks = sh_blocks(os.path.join(SRC_DIR, "docs", "cli.md"))
    check(len(blocks) >= 5, "README.md has %d ```sh blocks" % len(blocks))
    ncmd = sum(1 for _, t in blocks for ln in t.splitlines()
               if ln.strip() and not ln.strip().startswith("#"))
    print("README.md: %d ```sh blocks, %d command lines" % (len(blocks), ncmd), flush=True)

    data = os.path.join(proj, "var", "data")
    # obsflowd as `make run` starts it: in the tree, with the defaults (config/, ./var/data)
    os.chdir(proj)
    d = Daemon(db.url, name="readme", workers=2,
               env={"OBSFLOW_CONFIG_DIR": "", "OBSFLOW_DATA_ROOTS": "",
                    "OBSFLOW_WORK_DIR": os.path.join(root, "work"),
                    "OBSFLOW_QUEUES": "", "OBSFLOW_REFERENCE_URI": ""})
    out = run_page(d, root, proj, "README.md", blocks)

    # the tour's end state
    st, _, body = d.request("GET", "/v1/jobs?kind=dataset")
    check(st == 200 and len(body["items"]) == 1, "dataset jobs: %s %s" % (st, body))
    job = d.job(body["items"][0]["id"])
    check(job["state"] == "succeeded" and job["attempts"] == 1, "the tour's job: %s" % job)
    caom = job["result"]["caom"]
    check(caom["outcome"] == "created" and caom["uri"] == "caom:HST/j8bt05njq",
          "result.caom %s" % caom)
    check("%s  succeeded  dataset" % job["id"] in out, "obsflow wait printed no "
          "'<id>  succeeded  dataset' line")
    st, _, tsv = d.request("GET", "/caom2/observations/HST", raw=True)
    rows = [ln.split("\t") for ln in tsv.decode().splitlines() if ln]
    check(st == 200 and [row[:2] for row in rows] == [["HST", "j8bt05njq"]],
          "GET /caom2/observations/"
          "HST: %s %r" % (st, tsv[:300]))
    st, _, xml = d.request("GET", "/caom2/observations/HST/j8bt05njq", raw=True)
    doc = ET.fromstring(xml)
    planes = {p.find("{*}productID").text: p.find("{*}calibrationLevel").text
              for p in doc.findall("{*}planes/{*}plane")}
    check(planes == {"j8bt05njq_raw": "1", "j8bt05njq_flt": "2"}, "planes %s" % planes)
    products = [p["uri"] for p in job["result"]["products"]]
    flt = [u for u in products if u.endswith("/j8bt05njq_flt.fits")]
    check(len(flt) == 1, "products %s" % products)
    flt_path = flt[0][len("file:"):]
    check(flt_path.startswith(os.path.join(data, "tour", "out") + "/") and
          os.path.isfile(flt_path), "the calibrated product %s" % flt_path)
    cards = {}
    with open(flt_path, "rb") as f:
        while "END" not in cards:  # the primary header, block by block
            block = f.read(2880).decode("ascii", "replace")
            check(len(block) == 2880, "%s: no END in the primary header" % flt_path)
            for i in range(0, 2880, 80):
                key = block[i:i + 8].strip()
                cards.setdefault(key, block[i + 10:i + 80].split("/")[0].strip(" '"))
    switches = {k: cards.get(k) for k in ("DQICORR", "BLEVCORR", "NOISCORR", "BIASCORR",
                                          "DARKCORR", "FLATCORR")}
    check(switches == {"DQICORR": "COMPLETE", "BLEVCORR": "COMPLETE", "NOISCORR": "COMPLETE",
                       "BIASCORR": "SKIPPED", "DARKCORR": "SKIPPED", "FLATCORR": "SKIPPED"},
          "switches of the flt: %s" % switches)
    print("ok: dataset job succeeded (attempt 1), HST/j8bt05njq created with planes "
          "j8bt05njq_raw (level 1) and j8bt05njq_flt (level 2), the flt published with "
          "%s" % " ".join("%s=%s" % kv for kv in sorted(switches.items())), flush=True)

    artifacts = os.path.join(os.path.abspath(BIN_DIR), "readme-artifacts")
    shutil.rmtree(artifacts, ignore_errors=True)
    os.makedirs(artifacts)
    screenshot(d, job["id"], artifacts)
    print("ok: the dashboard shows the job succeeded with its observation link; screenshot "
          "in %s" % os.path.join(artifacts, "dashboard.png"), flush=True)
    # docs/cli.md's examples, after the tour, in the same tree against the same obsflowd
    out = run_page(d, root, proj, "docs/cli.md", cli_blocks)
    check("exit 27" in out, "obsflow process without references did not exit 27")
    check(re.search(r"created caom:POSSUM/\S+", out), "obsflow repo push created nothing")
    st, _, body = d.request("GET", "/v1/jobs?kind=ingest")
    check(st == 200 and [j["state"] for j in body["items"]] == ["succeeded"],
          "the ingest job of docs/cli.md: %s" % body)
    d.stop()


if __name__ == "__main__":
    main(run, "readme")
