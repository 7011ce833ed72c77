#!/usr/bin/python3
"""A small WHOSON server for hook_whoson's tests, faithful to the protocol
(Eugene Crosser's draft, as whosond and gowhoson speak it):

  request  "VERB ADDRESS [ARGUMENT]" CRLF, then an empty line (CRLF)
  reply    one line starting with '+' (done), '-' (negative) or '*' (error),
           then an empty line

Verbs: LOGIN ADDRESS USER (records ADDRESS -> USER), LOGOUT ADDRESS (drops
it), QUERY ADDRESS ('+USER' or '-Not logged in'), QUIT (TCP: '+QUIT OK', then
close). Over UDP one datagram holds one request; over TCP a connection
carries requests until QUIT or EOF.

Every request received is appended to --log as one JSON line
{"transport", "verb", "address", "argument", "reply", "t" (time.time())}; a request that does
not follow the protocol gets a '*' reply and is logged with verb "BAD".

With --silent the server receives and logs but never answers (UDP), or
accepts connections and never answers on them (TCP): a server that hangs.

usage: whoson_server.py --log FILE --udp PORT --tcp PORT [--silent]
"""
import argparse
import ipaddress
import json
import socket
import threading
import time

lock = threading.Lock()
online = {}


def log(path, transport, verb, address, argument, reply):
    with lock, open(path, "a") as f:
        f.write(json.dumps({"transport": transport, "verb": verb, "address": address,
                            "argument": argument, "reply": reply, "t": time.time()}) + "\n")


def handle(request):
    """(verb, address, argument, reply line) for one request's first line."""
    words = request.split(" ")
    verb = words[0].upper() if words and words[0] else ""
    if verb == "QUIT":
        return verb, "", "", "+QUIT OK"
    if verb not in ("LOGIN", "LOGOUT", "QUERY") or len(words) < 2:
        return "BAD", "", request, "*command parse error"
    try:
        address = str(ipaddress.ip_address(words[1]))
    except ValueError:
        return "BAD", words[1], request, "*bad address"
    argument = " ".join(words[2:])
    with lock:
        if verb == "LOGIN":
            if not argument:
                return "BAD", address, "", "*LOGIN needs a user"
            online[address] = argument
            return verb, address, argument, "+LOGIN OK"
        if verb == "LOGOUT":
            if online.pop(address, None) is None:
                return verb, address, argument, "+LOGOUT no such record, nothing done"
            return verb, address, argument, "+LOGOUT record deleted"
        user = online.get(address)
        return verb, address, argument, f"+{user}" if user else "-Not logged in"


def split_request(data):
    """The first line of a complete request (ended by an empty line), or
    None when the request is not complete or not well formed."""
    if not data.endswith(b"\r\n\r\n") or data.count(b"\r\n\r\n") != 1:
        return None
    line = data[:-4].decode("latin-1")
    return None if "\r" in line or "\n" in line else line


def serve_udp(sock, path, silent):
    while True:
        data, peer = sock.recvfrom(2048)
        line = split_request(data)
        if line is None:
            verb, address, argument, reply = "BAD", "", data.decode("latin-1"), "*bad request"
        else:
            verb, address, argument, reply = handle(line)
        log(path, "udp", verb, address, argument, None if silent else reply)
        if not silent:
            sock.sendto(reply.encode() + b"\r\n\r\n", peer)


def serve_tcp_conn(conn, path, silent):
    buf = b""
    with conn:
        conn.settimeout(30)
        while True:
            try:
                data = conn.recv(2048)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\r\n\r\n" in buf:
                raw, buf = buf.split(b"\r\n\r\n", 1)
                line = split_request(raw + b"\r\n\r\n")
                if line is None:
                    verb, address, argument, reply = "BAD", "", raw.decode("latin-1"), "*bad"
                else:
                    verb, address, argument, reply = handle(line)
                log(path, "tcp", verb, address, argument, None if silent else reply)
                if silent:
                    continue
                conn.sendall(reply.encode() + b"\r\n\r\n")
                if verb == "QUIT":
                    return
            if len(buf) > 4096:
                return


def serve_tcp(sock, path, silent):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=serve_tcp_conn, args=(conn, path, silent), daemon=True).start()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True)
    p.add_argument("--udp", type=int, required=True)
    p.add_argument("--tcp", type=int, required=True)
    p.add_argument("--silent", action="store_true")
    a = p.parse_args()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", a.udp))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", a.tcp))
    tcp.listen(64)
    threading.Thread(target=serve_udp, args=(udp, a.log, a.silent), daemon=True).start()
    with open(a.log, "a") as f:
        f.write(json.dumps({"ready": True}) + "\n")
    serve_tcp(tcp, a.log, a.silent)


if __name__ == "__main__":
    main()
