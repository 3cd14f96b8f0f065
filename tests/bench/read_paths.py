#!/usr/bin/python3
"""What each way of reading balloon statistics through libvirt costs, per domain per read.

Run by tests/bench/read_paths.sh on N paused bench domains. For each path it makes ROUNDS reads of
every domain and prints the CPU time libvirtd, the QEMU processes and this client used, per domain
per read, and the wall time of one round:

  qom-get     QMP passthrough, one `qom-get guest-stats` per domain (taints the domain)
  memstats    virDomainMemoryStats, one call per domain
  bulk        virConnectGetAllDomainStats(STATE|BALLOON, NOWAIT): every domain in one call
  getinfo     virDomainGetInfo per domain: the CPU time balloond watches on steady domains
  list        virConnectListAllDomains: the listing a collection that skips domains starts with

Then, with one QEMU stopped (SIGSTOP), how long one bulk call and one per-domain call to a healthy
domain take: the isolation each path gives when a QEMU hangs.
"""
import os
import signal
import subprocess
import sys
import threading
import time

import libvirt
import libvirt_qemu

TICK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total * 1000 / TICK


def pids(pattern):
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    conn = libvirt.open("qemu:///system")
    doms = [d for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)
            if d.name().startswith("bench-")]
    n = len(doms)
    libvirtd = pids("^/usr/sbin/libvirtd")
    qemus = pids("qemu-system-x86_64 -name guest=bench-")
    groups = libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_BALLOON
    flags = (libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
             libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT)
    qom = '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/ua-balloon",' \
          '"property":"guest-stats"}}'
    paths = {
        "qom-get": lambda: [libvirt_qemu.qemuMonitorCommand(d, qom, 0) for d in doms],
        "memstats": lambda: [d.memoryStats() for d in doms],
        "bulk": lambda: conn.getAllDomainStats(groups, flags),
        "getinfo": lambda: [d.info() for d in doms],
        "list": lambda: conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE),
    }
    print(f"{n} paused domains, {rounds} rounds per path; ms per domain per read")
    print(f"| {'path':9} | {'client':>7} | {'libvirtd':>8} | {'QEMU':>7} | {'total':>7} | "
          f"{'round ms':>8} |")
    print("|-----------|---------|----------|---------|---------|----------|")
    for name, read in paths.items():
        try:
            read()  # the balloon's QOM path may differ: skip a path that cannot work here
        except libvirt.libvirtError as e:
            print(f"| {name:9} | (failed: {e.get_error_message()[:60]})")
            continue
        l0, q0, c0, t0 = cpu_ms(libvirtd), cpu_ms(qemus), time.process_time(), time.time()
        for _ in range(rounds):
            read()
        l1, q1, c1, t1 = cpu_ms(libvirtd), cpu_ms(qemus), time.process_time(), time.time()
        per = n * rounds
        client = (c1 - c0) * 1000 / per
        ld, qd = (l1 - l0) / per, (q1 - q0) / per
        print(f"| {name:9} | {client:7.3f} | {ld:8.3f} | {qd:7.3f} | {client + ld + qd:7.3f} | "
              f"{(t1 - t0) * 1000 / rounds:8.1f} |")

    # Isolation: one QEMU stops answering.
    victim, healthy = doms[0], doms[-1]
    pid = int(open(f"/run/libvirt/qemu/{victim.name()}.pid").read())
    os.kill(pid, signal.SIGSTOP)
    time.sleep(0.5)
    calls = []
    try:
        for name, call in [("memstats, a healthy domain", healthy.memoryStats),
                           ("bulk, every domain", lambda: conn.getAllDomainStats(groups, flags))]:
            # In a thread of its own: libvirt may wait for the stopped QEMU for good.
            result = {}

            def run(call=call, result=result):
                t0 = time.time()
                try:
                    call()
                    result["outcome"] = "answered"
                except libvirt.libvirtError as e:
                    result["outcome"] = "failed: " + e.get_error_message()[:70]
                result["took"] = time.time() - t0

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            thread.join(5)
            if "took" in result:
                print(f"one QEMU stopped: {name}: {result['took']:.2f} s ({result['outcome']})")
            else:
                print(f"one QEMU stopped: {name}: no answer after 5 s (held by the stopped QEMU)")
            calls.append(thread)
    finally:
        os.kill(pid, signal.SIGCONT)
    for thread in calls:
        thread.join(30)


if __name__ == "__main__":
    main()
