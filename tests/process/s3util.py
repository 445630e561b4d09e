#!/usr/bin/env python3
"""s3util.py - tiny S3 client for the process S3 tests (python3-botocore, path-style, s3rver).
usage: s3util.py ENDPOINT mb BUCKET | put BUCKET KEY FILE | ls BUCKET PREFIX | get BUCKET KEY"""
import sys

import botocore.session
from botocore.config import Config

endpoint, cmd, *args = sys.argv[1:]
s3 = botocore.session.get_session().create_client(
    "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="S3RVER",
    aws_secret_access_key="S3RVER", config=Config(s3={"addressing_style": "path"}))
if cmd == "mb":
    s3.create_bucket(Bucket=args[0])
elif cmd == "put":
    with open(args[2], "rb") as f:
        s3.put_object(Bucket=args[0], Key=args[1], Body=f.read())
elif cmd == "ls":
    token = None
    while True:
        kw = {"Bucket": args[0], "Prefix": args[1]}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        for o in r.get("Contents", []):
            print(o["Key"])
        if not r.get("IsTruncated"):
            break
        token = r["NextContinuationToken"]
elif cmd == "get":
    sys.stdout.buffer.write(s3.get_object(Bucket=args[0], Key=args[1])["Body"].read())
else:
    sys.exit("unknown command " + cmd)
