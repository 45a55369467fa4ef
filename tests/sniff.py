# sniff.py IFACE OUT: appends the TCP payload of every packet seen on IFACE
# to OUT (run inside a network namespace; tests/curve.sh). Until SIGTERM.
import signal, socket, struct, sys

iface, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
s.bind((iface, 0))
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
with open(out, "wb", buffering=0) as f:
    print("capturing on", iface, flush=True)
    while True:
        pkt = s.recv(65535)
        if len(pkt) < 14 + 20 or struct.unpack("!H", pkt[12:14])[0] != 0x0800:
            continue
        ip = pkt[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6:
            continue
        tcp = ip[ihl:]
        f.write(tcp[(tcp[12] >> 4) * 4:])
