#!/usr/bin/env python3
"""Independent ESP peer for esp/tests/scapy_interop.rs, built on scapy's
SecurityAssociation. Reads one JSON request on stdin, writes one JSON answer on stdout.

Request: {"cases": [{"id", "enc", "ekey", "auth", "akey", "spi", "mode", "natt",
                     "encrypt": [{"payload": hex, "seq": n}],
                     "decrypt": [hex ESP packet, ...]}]}
Answer:  {"results": [{"id", "encrypted": [hex ESP packet],
                       "decrypted": [{"ok", "payload", "nh", "error"}]}]}
For tunnel mode a payload is an inner IPv4 packet; for transport mode it is the bytes
of protocol 253 behind the outer IPv4 header. With "natt" the packets are RFC 3948
UDP datagrams (8-byte UDP header on port 4500, then ESP) instead of bare ESP.
"""
import json
import sys
import warnings

warnings.filterwarnings("ignore")
try:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.ipsec import ESP, SecurityAssociation
    from scapy.packet import Raw
except Exception as e:  # pragma: no cover
    print("scapy missing: %s (run scripts/deps.sh)" % e, file=sys.stderr)
    sys.exit(3)

SRC, DST = "192.0.2.1", "198.51.100.2"
TRANSPORT_PROTO = 253


def make_sa(c):
    kw = dict(spi=c["spi"], crypt_algo=c["enc"], auth_algo=c["auth"])
    if c["ekey"]:
        kw["crypt_key"] = bytes.fromhex(c["ekey"])
    if c["akey"]:
        kw["auth_key"] = bytes.fromhex(c["akey"])
    if c["mode"] == "tunnel":
        kw["tunnel_header"] = IP(src=SRC, dst=DST)
    if c.get("natt"):
        kw["nat_t_header"] = UDP(sport=4500, dport=4500)
    return SecurityAssociation(ESP, **kw)


def esp_bytes(ip_pkt, natt=False):
    """The ESP packet, or with NAT-T the whole UDP datagram (header + ESP)."""
    raw = bytes(ip_pkt)
    ihl = (raw[0] & 0x0F) * 4
    assert raw[9] == (17 if natt else 50), "not ESP / UDP"
    return raw[ihl:]


def run_case(c):
    sa = make_sa(c)
    out = {"id": c["id"], "encrypted": [], "decrypted": []}
    for item in c.get("encrypt", []):
        payload = bytes.fromhex(item["payload"])
        if c["mode"] == "tunnel":
            pkt = IP(payload)
            assert bytes(pkt) == payload, "inner packet does not re-serialize"
        else:
            pkt = IP(src=SRC, dst=DST, proto=TRANSPORT_PROTO) / Raw(payload)
        enc = sa.encrypt(pkt, seq_num=item["seq"])
        out["encrypted"].append(esp_bytes(enc, c.get("natt", False)).hex())
    for hexpkt in c.get("decrypt", []):
        esp = bytes.fromhex(hexpkt)
        proto = 17 if c.get("natt") else 50
        wire = IP(bytes(IP(src=DST, dst=SRC, proto=proto) / Raw(esp)))
        try:
            dec = sa.decrypt(wire)
        except Exception as e:  # the error class is what the test checks
            out["decrypted"].append({"ok": False, "error": type(e).__name__})
            continue
        if c["mode"] == "tunnel":
            out["decrypted"].append({"ok": True, "payload": bytes(dec).hex(), "nh": 4})
        else:
            out["decrypted"].append(
                {"ok": True, "payload": bytes(dec[IP].payload).hex(), "nh": dec[IP].proto}
            )
    return out


def main():
    req = json.load(sys.stdin)
    res = [run_case(c) for c in req["cases"]]
    json.dump({"results": res}, sys.stdout)


if __name__ == "__main__":
    main()
