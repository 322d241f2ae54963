#!/usr/bin/env python3
"""Writes the hand-written seeds of the `xmlrpc_call` fuzz target:

    python3 fuzz/xmlrpc_seeds.py fuzz/corpus/xmlrpc_call
"""

import os
import sys

H = '<?xml version="1.0"?>'


def call(name, *params):
    ps = "".join(f"<param><value>{p}</value></param>" for p in params)
    return f"{H}<methodCall><methodName>{name}</methodName><params>{ps}</params></methodCall>"


def st(**m):
    return "<struct>" + "".join(
        f"<member><name>{k}</name><value>{v}</value></member>" for k, v in m.items()) + "</struct>"


def s(x):
    return f"<string>{x}</string>"


def i(x):
    return f"<int>{x}</int>"


def arr(*xs):
    return "<array><data>" + "".join(f"<value>{x}</value>" for x in xs) + "</data></array>"


SEEDS = {
    "login_none": call("login"),
    "login_user": call("login", s("alice"), s("s3cret")),
    "logout": call("logout", s("0123456789abcdef")),
    "view_all": call("view", s("sid"), st(), s(""), s(""), i(0), i(50)),
    "view_filters": call("view", s("sid"), st(addr=s("192.0.2.0/24"), port=arr(i(80), s("1000-2000")),
                                              proto=s("tcp"), state=s("ESTABLISHED")),
                         s("orig_bytes"), s("DESC"), i(10), i(20)),
    "view_filters2": call("view", s("sid"), st(mark=s("0x10/0xff"), status=arr(s("ASSURED"), s("SEEN_REPLY")),
                                               family=s("ipv6"), rate=s("1.5-"), q=s("2001:db8"),
                                               user=s("alice"), uid=s("1000"), id=i(-1561989833)),
                          s("rate"), s("asc"), s("5"), s("")),
    "view_pyctd_aliases": call("view", s("sid"), st(orig_ipv4_src=s("10.0.0.1"), orig_port_dst=i(443),
                                                    orig_l4proto=i(6), timeout=s("10-"), age=s("-60")),
                               s("orig_ipv4_src"), s("ASC"), "<nil/>", "<nil/>"),
    "view_php_empty": call("view", s("sid"), "<array><data></data></array>", "<string/>", "<string/>",
                           "<string/>", "<string/>"),
    "view_nil": call("view", s("sid"), "<nil/>", "<nil/>", "<nil/>", "<i8>0</i8>", "<i4>5</i4>"),
    "view_ex_nil": H + '<methodCall xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions">'
                       "<methodName>view</methodName><params><param><value><string>sid</string></value>"
                       "</param><param><value><ex:nil/></value></param></params></methodCall>",
    "kill": call("kill", s("sid"), arr(i(1), s("2732977463"), i(-1))),
    "kill_matching": call("kill_matching", s("sid"), st(dport=i(22), zone=i(1), l4proto=i(17))),
    "change": call("change", s("sid"), i(7), s("mark"), "<i8>4294967295</i8>"),
    "set_autorefresh": call("set_autorefresh", s("sid"), "<boolean>1</boolean>"),
    "multicall": call("system.multicall", arr(
        st(methodName=s("view"), params=arr(s("sid"), st(port=i(53)), s("id"), s("desc"), i(0), i(3))),
        st(methodName=s("stats"), params=arr(s("sid"))),
        st(methodName=s("system.listMethods"), params=arr()))),
    "types": call("echo", "<i8>-9223372036854775808</i8>", "<double>-0.0</double>",
                  "<double>1.7976931348623157e308</double>", "<base64>AAECAwQ=</base64>",
                  "<dateTime.iso8601>20240102T03:04:05</dateTime.iso8601>", "<boolean>0</boolean>",
                  "untyped text", s("a &amp; b &lt;c&gt; &#13;&#x10FFFF;"), "<nil/>", arr(arr(), st())),
    "no_params": H + "<methodCall><methodName>system.listMethods</methodName></methodCall>",
    "struct_dupes": call("view", s("sid"), st(port=i(80)).replace(
        "</struct>", "<member><name>port</name><value>" + arr("1-9", "<nil/>") + "</value></member></struct>")),
}

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, body in SEEDS.items():
    with open(os.path.join(out, f"seed-{name}.xml"), "w") as f:
        f.write(body)
with open(os.path.join(out, "seed-latin1.xml"), "wb") as f:
    f.write('<?xml version="1.0" encoding="iso-8859-1"?><methodCall><methodName>login</methodName>'
            '<params><param><value><string>j\xf6rg</string></value></param></params></methodCall>'
            .encode("latin-1"))
with open(os.path.join(out, "seed-bom.xml"), "wb") as f:
    f.write(b"\xef\xbb\xbf" + SEEDS["login_none"].encode())
