#!/usr/bin/env python3
"""Captures ctnetlink answers as raw datagrams, the seeds of the `netlink_dump`
fuzz target. Run it in a private namespace, no root needed:

    unshare -Urn python3 fuzz/capture_netlink.py fuzz/corpus/netlink_dump

It switches on accounting and timestamps, fills the namespace's table with the
`conntrack` tool (TCP, UDP, ICMP, SCTP, both families, marks, zones, labels),
subscribes to events, then writes one file per datagram received: dump
answers, statistics answers, an error, an ACK, and NEW/UPDATE/DESTROY events.
"""

import os
import socket
import struct
import subprocess
import sys

NETLINK_NETFILTER = 12
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
CT = 1 << 8  # NFNL_SUBSYS_CTNETLINK
GET, GET_STATS_CPU, GET_STATS = 1, 4, 5

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name in ("nf_conntrack_acct", "nf_conntrack_timestamp"):
    with open(f"/proc/sys/net/netfilter/{name}", "w") as f:
        f.write("1")

events = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
events.bind((0, 0b111))  # NFNLGRP_CONNTRACK_NEW, _UPDATE, _DESTROY
events.setblocking(False)


def ct(*args):
    subprocess.run(["conntrack", *args], check=True, capture_output=True)


ct("-I", "-s", "192.0.2.1", "-d", "198.51.100.2", "-p", "tcp", "--sport", "40000",
   "--dport", "443", "--state", "ESTABLISHED", "-t", "120", "-m", "6", "-u", "ASSURED,SEEN_REPLY")
ct("-I", "-s", "2001:db8::1", "-d", "2001:db8::2", "-p", "udp", "--sport", "5353",
   "--dport", "53", "-t", "30", "-w", "7")
ct("-I", "-s", "192.0.2.3", "-d", "192.0.2.4", "-p", "icmp", "--icmp-type", "8",
   "--icmp-code", "0", "--icmp-id", "77", "-t", "30")
ct("-I", "-s", "2001:db8::3", "-d", "2001:db8::4", "-p", "icmpv6", "--icmpv6-type", "128",
   "--icmpv6-code", "0", "--icmpv6-id", "78", "-t", "30")
ct("-I", "-s", "10.1.1.1", "-d", "10.2.2.2", "-p", "sctp", "--sport", "9", "--dport", "10",
   "--state", "ESTABLISHED", "--orig-vtag", "1", "--reply-vtag", "2", "-t", "60")
for i in range(40):
    ct("-I", "-s", f"10.0.{i // 200}.{i % 200 + 1}", "-d", "203.0.113.9", "-p", "tcp",
       "--sport", str(1024 + i), "--dport", "80", "--state", "SYN_SENT", "-t", "60",
       "-m", str(i << 8))
ct("-U", "-s", "192.0.2.1", "-p", "tcp", "-m", "9")
ct("-D", "-s", "192.0.2.3")

seq = 100
count = 0


def save(kind, data):
    global count
    count += 1
    with open(os.path.join(out, f"{kind}-{count:03}"), "wb") as f:
        f.write(data)


def request(msg_type, flags, family=socket.AF_UNSPEC, attrs=b""):
    """Sends one request and saves every datagram of its answer."""
    global seq
    seq += 1
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    body = struct.pack("BBH", family, 0, 0) + attrs
    s.send(struct.pack("=IHHII", 16 + len(body), msg_type, flags, seq, 0) + body)
    while True:
        data = s.recv(1 << 16)
        save(f"answer{msg_type & 0xff}", data)
        kinds = []
        off = 0
        while off + 16 <= len(data):
            length, kind = struct.unpack_from("=IH", data, off)
            kinds.append(kind)
            off += (length + 3) & ~3
            if length < 16:
                break
        if 2 in kinds or 3 in kinds or not flags & NLM_F_DUMP:  # NLMSG_ERROR, NLMSG_DONE
            break
    s.close()


request(CT | GET, NLM_F_REQUEST | NLM_F_DUMP)
request(CT | GET, NLM_F_REQUEST | NLM_F_DUMP, socket.AF_INET6)
request(CT | GET_STATS_CPU, NLM_F_REQUEST | NLM_F_DUMP)
request(CT | GET_STATS, NLM_F_REQUEST | NLM_F_ACK)
request(CT | GET, NLM_F_REQUEST | NLM_F_ACK)  # no tuple: an error answer
while True:
    try:
        save("event", events.recv(1 << 16))
    except BlockingIOError:
        break
print(f"{count} datagrams in {out}")
