#!/usr/bin/env python3
"""Users and chats for bench/chat-load.c, made over HTTP: A and B with a one-to-one chat, and a
group of A with FANOUT receivers. Writes the C client's setup file (see chat-load.c).
   chat-setup.py BASE_URL PORT FANOUT OUT"""
import json
import random
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

base, port, fanout, out = sys.argv[1].rstrip("/"), sys.argv[2], int(sys.argv[3]), sys.argv[4]
run = "%x" % random.getrandbits(40)


def api(method, path, body, token=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def signup(tag):
    r = api("POST", "/api/v1/auth/signup", {"email": "c-%s-%s@bench.example" % (run, tag),
                                           "password": "bench-password-1", "display_name": "bench " + tag})
    return r["user"]["id"], r["access_token"]


with ThreadPoolExecutor(8) as ex:
    users = list(ex.map(signup, ["a", "b"] + ["r%d" % i for i in range(fanout)]))
(a_id, a_tok), (b_id, b_tok), rs = users[0], users[1], users[2:]
ab = api("POST", "/api/v1/chats", {"participants": [b_id]}, a_tok)["id"]
lines = ["port " + port, "a " + a_tok, "b " + b_tok, "ab " + ab]
if rs:
    g = api("POST", "/api/v1/chats", {"participants": [u for u, _ in rs], "group": True}, a_tok)["id"]
    lines += ["g " + g] + ["r " + t for _, t in rs]
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
