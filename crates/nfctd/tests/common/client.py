"""An independent XML-RPC client for the integration tests: Python's stdlib
xmlrpc.client, driven by JSON lines on stdin, answering JSON lines on stdout.

Usage: client.py URL [CAFILE]   (CAFILE: trust only these certificates, for https)
Request:  {"m": "view", "p": [...]}      Answer: {"ok": value} or {"fault": [code, "string"]}
          or {"http": [status, "message"]} (status 0: no HTTP answer, e.g. a TLS failure)
"""
import base64
import datetime
import json
import ssl
import sys
import xmlrpc.client


def plain(value):
    if isinstance(value, xmlrpc.client.DateTime):
        return {"$datetime": value.value}
    if isinstance(value, datetime.datetime):
        return {"$datetime": value.strftime("%Y%m%dT%H:%M:%S")}
    if isinstance(value, (bytes, bytearray)):
        return {"$base64": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def main():
    context = None
    if len(sys.argv) > 2:
        context = ssl.create_default_context(cafile=sys.argv[2])
    proxy = xmlrpc.client.ServerProxy(sys.argv[1], allow_none=True, context=context)
    for line in sys.stdin:
        request = json.loads(line)
        method = proxy
        for part in request["m"].split("."):
            method = getattr(method, part)
        try:
            answer = {"ok": plain(method(*request.get("p", [])))}
        except xmlrpc.client.Fault as fault:
            answer = {"fault": [fault.faultCode, fault.faultString]}
        except xmlrpc.client.ProtocolError as error:
            answer = {"http": [error.errcode, error.errmsg]}
        except OSError as error:
            answer = {"http": [0, str(error)]}
        print(json.dumps(answer), flush=True)


main()
