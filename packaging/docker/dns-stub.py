#!/usr/bin/env python3
"""A one-name DNS server for packaging/docker/test-image.sh (standard library only).

    dns-stub.py ADDRESS NAME IPV4

Answers UDP queries on ADDRESS:53: an A query for NAME gets IPV4, any other query for NAME
an empty answer, any other name NXDOMAIN. Logs each query to stderr (the test reads that
the container asked it). Prints "listening" once bound; runs until killed. It exists so the
test can prove that the static binary resolves a webhook host through DNS (resolv.conf)
inside the FROM scratch image, with no name service module to load.
"""

import socket
import struct
import sys


def main():
    address, name, ipv4 = sys.argv[1:]
    wanted = name.lower().rstrip(".").encode()
    answer_ip = socket.inet_aton(ipv4)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, 53))
    print("listening", file=sys.stderr, flush=True)
    while True:
        query, peer = sock.recvfrom(512)
        if len(query) < 12:
            continue
        (txid,) = struct.unpack(">H", query[:2])
        # The question: length-prefixed labels up to a zero byte, then QTYPE and QCLASS.
        labels, at = [], 12
        while at < len(query) and query[at]:
            labels.append(query[at + 1 : at + 1 + query[at]])
            at += query[at] + 1
        if at + 5 > len(query):
            continue
        (qtype,) = struct.unpack(">H", query[at + 1 : at + 3])
        question = query[12 : at + 5]
        asked = b".".join(labels).lower()
        print(f"query {asked.decode(errors='replace')} type {qtype}", file=sys.stderr, flush=True)
        if asked != wanted:
            flags, answers, records = 0x8183, 0, b""  # NXDOMAIN
        elif qtype == 1:
            # A pointer to the question's name, type A, class IN, TTL 60, the address.
            records = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + answer_ip
            flags, answers = 0x8180, 1
        else:
            flags, answers, records = 0x8180, 0, b""
        header = struct.pack(">HHHHHH", txid, flags, 1, answers, 0, 0)
        sock.sendto(header + question + records, peer)


if __name__ == "__main__":
    main()
