#!/usr/bin/python3
"""An example orchestrator: places VMs on a balloond host through reservations.

For each VM it asks balloond for room (ReserveMemory, named after the VM, with a request_id),
waits until the room is READY, defines and starts the VM from a template with libvirt, and waits
until balloond sees it running (the reservation is then CLAIMED). A VM that does not fit
(FAILED, or not ready in time) is not started, and a reservation whose VM did not start is
released, so no room stays promised to nothing.

Needs Debian's python3-grpcio, python3-protobuf and python3-libvirt, and protoc with
grpc_python_plugin (protobuf-compiler, protobuf-compiler-grpc) to make the API's Python modules
from balloon.proto at start.

  deploy/examples/orchestrator.py vm-1:1G vm-2:512M --ttl=5m
  deploy/examples/orchestrator.py --remove vm-1 vm-2     # destroy them, release their room
"""

import argparse
import os
import string
import subprocess
import sys
import tempfile
import time
import uuid

import grpc
import libvirt

HERE = os.path.dirname(os.path.abspath(__file__))
# How the VMs this places are known (the template's <description>).
PLACED_BY = "placed by the balloond example orchestrator"
# balloon.proto beside the source tree, or where balloond's package puts it.
PROTO_DIRS = (os.path.join(HERE, "..", "..", "proto"), "/usr/share/balloond/proto")
# What a restart of balloond looks like to a client: no answer, or a call it ended; and a retry
# that came while the first request was still being carried out (REQUEST_IN_PROGRESS).
RETRIED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.ABORTED)
UNITS = {"": 1 << 10, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def load_api(proto_dir):
    """balloon.proto's Python modules, generated into a temporary directory."""
    out = tempfile.mkdtemp(prefix="balloond-api-")
    subprocess.run(
        ["protoc", "-I", proto_dir, f"--python_out={out}", f"--grpc_python_out={out}",
         "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
         "balloon/v1/balloon.proto"],
        check=True)
    sys.path.insert(0, out)
    from balloon.v1 import balloon_pb2, balloon_pb2_grpc  # pylint: disable=import-outside-toplevel
    return balloon_pb2, balloon_pb2_grpc


def parse_size(text):
    """'1G', '512M', '1536K' or a number of KiB (as balloonctl and virsh take them) in bytes."""
    number = text.rstrip("KMGTiBb")
    unit = text[len(number):].upper().replace("IB", "").replace("B", "")
    if not number.isdigit() or unit not in UNITS:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 512M or 1G")
    return int(number) * UNITS[unit]


def parse_duration(text):
    for suffix, seconds in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)):
        if text.endswith(suffix) and text[:-len(suffix)].replace(".", "", 1).isdigit():
            return float(text[:-len(suffix)]) * seconds
    raise argparse.ArgumentTypeError(f"'{text}' is not a duration like 90s or 5m")


def parse_vm(text):
    name, _, size = text.partition(":")
    if not name or not size:
        raise argparse.ArgumentTypeError(f"'{text}' is not NAME:SIZE, e.g. vm-1:1G")
    return name, parse_size(size)


class Orchestrator:
    def __init__(self, args, pb, pb_grpc):
        self.args = args
        self.pb = pb
        if args.server:
            def read(path):
                with open(path, "rb") as f:
                    return f.read()
            credentials = grpc.ssl_channel_credentials(
                read(args.tls_ca), read(args.tls_key), read(args.tls_cert))
            channel = grpc.secure_channel(args.server, credentials)
        else:
            channel = grpc.insecure_channel(f"unix:{args.socket}")
        self.read = pb_grpc.BalloonReadServiceStub(channel)
        self.control = pb_grpc.BalloonControlServiceStub(channel)
        self.libvirt = libvirt.open(args.connect)
        with open(args.template, encoding="utf-8") as f:
            self.template = string.Template(f.read())
        self.start = time.monotonic()

    def say(self, text):
        print(f"{self.args.label}t+{time.monotonic() - self.start:6.2f}s  {text}", flush=True)

    def call(self, method, request, retry_until):
        """A call that may be repeated (a read, a change by request_id), retried while balloond is
        away (a restart ends the calls it was serving, CANCELLED) until `retry_until`."""
        while True:
            try:
                return method(request, timeout=10)
            except grpc.RpcError as e:
                if e.code() not in RETRIED or time.monotonic() > retry_until:
                    raise
                time.sleep(0.5)

    def reserve(self, name, size):
        """A reservation for `name`: made once, even when balloond restarts meanwhile. The retry
        repeats the request with its request_id, and balloond answers it with the reservation that
        request made, if it made one before it went away (it keeps them on disk): this one adopts
        no one else's reservation for the same name."""
        request = self.pb.ReserveMemoryRequest(
            bytes=size, domain=name, request_id=str(uuid.uuid4()))
        request.ttl.FromSeconds(int(self.args.ttl))
        return self.call(self.control.ReserveMemory, request,
                         time.monotonic() + self.args.timeout)

    def wait_for(self, reservation, states, whole=False):
        """The reservation once it is in one of `states` (with `whole`, and all of its room made:
        relief may have lent part of a READY one's room to a guest about to run out) or has ended
        otherwise."""
        deadline = time.monotonic() + self.args.timeout
        alive = (self.pb.RESERVATION_STATE_PENDING, self.pb.RESERVATION_STATE_READY)

        def waiting(r):
            if r.state in states:
                return whole and r.made_bytes < r.bytes
            return r.state in alive

        while waiting(reservation):
            if time.monotonic() > deadline:
                return reservation
            time.sleep(0.25)
            reservation = self.call(self.read.GetReservation,
                                    self.pb.GetReservationRequest(id=reservation.id), deadline)
        return reservation

    def release(self, reservation, why):
        self.call(self.control.ReleaseReservation,
                  self.pb.ReleaseReservationRequest(id=reservation.id,
                                                    request_id=str(uuid.uuid4())),
                  time.monotonic() + self.args.timeout)
        self.say(f"{reservation.id} released: {why}")

    def place(self, name, size):
        r = self.reserve(name, size)
        try:
            return self.use(r, name, size)
        except grpc.RpcError as e:
            # Nothing stays promised to a VM that will not come.
            self.say(f"{name} not placed: {e.code().name}: {e.details()}")
            if not self.libvirt_has(name):
                self.release(r, "placing its VM failed")
            return False

    def remove(self, name):
        """Destroys the VM `name` if this placed it, and releases the room still promised to it."""
        try:
            dom = self.libvirt.lookupByName(name)
            try:
                description = dom.metadata(libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, None)
            except libvirt.libvirtError:
                description = ""  # none
            if description != PLACED_BY:
                self.say(f"{name} was not placed by this orchestrator: left alone")
                return False
            dom.destroy()  # transient: destroyed is gone
            self.say(f"{name} destroyed")
        except libvirt.libvirtError as e:
            if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise
            self.say(f"{name} is not running")
        page = ""
        while True:
            listed = self.call(self.read.ListReservations,
                               self.pb.ListReservationsRequest(page_token=page),
                               time.monotonic() + 10)
            for r in listed.reservations:
                if r.domain == name and r.state in (self.pb.RESERVATION_STATE_PENDING,
                                                    self.pb.RESERVATION_STATE_READY):
                    self.release(r, "its VM was removed")
            page = listed.next_page_token
            if not page:
                return True

    def libvirt_has(self, name):
        try:
            self.libvirt.lookupByName(name)
            return True
        except libvirt.libvirtError:
            return False

    def use(self, r, name, size):
        """Waits for the room of `r`, starts the VM in it and waits until balloond sees it."""
        state = self.pb.ReservationState.Name
        self.say(f"reserve {size >> 20} MiB for {name}: {r.id} {state(r.state)}")
        r = self.wait_for(r, (self.pb.RESERVATION_STATE_READY,), whole=True)
        if r.state != self.pb.RESERVATION_STATE_READY or r.made_bytes < r.bytes:
            self.say(f"{name} not placed: {r.id} {state(r.state)} with "
                     f"{r.made_bytes >> 20} of {r.bytes >> 20} MiB made: {r.explanation}")
            if r.state in (self.pb.RESERVATION_STATE_PENDING, self.pb.RESERVATION_STATE_READY):
                self.release(r, "its room was not all there in time")
            return False
        self.say(f"{r.id} READY: {r.explanation}")
        xml = self.template.substitute(name=name, memory_kib=size >> 10, images=self.args.images)
        try:
            self.libvirt.createXML(xml, 0)
        except libvirt.libvirtError as e:
            self.say(f"{name} did not start: {e}")
            self.release(r, "its VM did not start")
            return False
        self.say(f"{name} started")
        r = self.wait_for(r, (self.pb.RESERVATION_STATE_CLAIMED,))
        if r.state != self.pb.RESERVATION_STATE_CLAIMED:
            self.say(f"{name} runs, but balloond did not see it claim {r.id} ({state(r.state)})")
            if r.state == self.pb.RESERVATION_STATE_READY:
                self.release(r, "its VM runs without it")
            return True
        self.say(f"{r.id} CLAIMED by {name}")
        return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vms", nargs="+", metavar="NAME:SIZE",
                        help="the VMs to place, in order, e.g. vm-1:1G (with --remove: NAME)")
    parser.add_argument("--remove", action="store_true",
                        help="destroy the VMs named (those this placed) and release their room")
    parser.add_argument("--socket", default="/run/balloond/balloond.sock",
                        help="balloond's read-write socket")
    parser.add_argument("--server", help="balloond's TLS listener, HOST:PORT, instead")
    parser.add_argument("--tls-ca")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--connect", default="qemu:///system", help="libvirt's URI")
    parser.add_argument("--template", default=os.path.join(HERE, "vm-template.xml"))
    parser.add_argument("--images", default=os.environ.get(
        "BALLOOND_GUEST_DIR", "/var/lib/libvirt/images/balloond"),
        help="where the template's kernel and initrd are")
    parser.add_argument("--proto", default=next(
        (d for d in PROTO_DIRS if os.path.exists(os.path.join(d, "balloon/v1/balloon.proto"))),
        PROTO_DIRS[0]), help="the directory holding balloon/v1/balloon.proto")
    parser.add_argument("--ttl", type=parse_duration, default=parse_duration("5m"),
                        help="how long a reservation lives unless claimed (default 5m)")
    parser.add_argument("--timeout", type=parse_duration, default=parse_duration("120s"),
                        help="how long to wait for room, and for balloond to see a VM run")
    parser.add_argument("--label", default="", help="a prefix for each line of output")
    args = parser.parse_args()
    if args.server and not (args.tls_ca and args.tls_cert and args.tls_key):
        parser.error("--server needs --tls-ca, --tls-cert and --tls-key")
    pb, pb_grpc = load_api(args.proto)
    orchestrator = Orchestrator(args, pb, pb_grpc)
    if args.remove:
        removed = sum(orchestrator.remove(v.split(":")[0]) for v in args.vms)
        return 0 if removed == len(args.vms) else 1
    try:
        args.vms = [parse_vm(v) for v in args.vms]
    except argparse.ArgumentTypeError as e:
        parser.error(str(e))
    placed = 0
    for name, size in args.vms:
        try:
            placed += orchestrator.place(name, size)
        except grpc.RpcError as e:
            orchestrator.say(f"{name} not placed: {e.code().name}: {e.details()}")
    orchestrator.say(f"placed {placed} of {len(args.vms)}")
    return 0 if placed == len(args.vms) else 1


if __name__ == "__main__":
    sys.exit(main())
