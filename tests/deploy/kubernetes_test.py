#!/usr/bin/python3
"""The shipped DaemonSet keeps what an operator relies on: state on the node, a restrictive
securityContext, the metrics port, probes through balloonctl, and a config balloond accepts.
Usage: kubernetes_test.py DAEMONSET_YAML BALLOOND_BINARY"""
import subprocess
import sys
import tempfile

import yaml

docs = list(yaml.safe_load_all(open(sys.argv[1])))
daemonset = next(d for d in docs if d["kind"] == "DaemonSet")
config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["balloond.textproto"]
pod = daemonset["spec"]["template"]["spec"]
container = pod["containers"][0]
failures = []


def check(what, ok):
    print(("ok: " if ok else "FAILED: ") + what)
    if not ok:
        failures.append(what)


volumes = {v["name"]: v for v in pod["volumes"]}
mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
check("the state directory is a hostPath on the node",
      volumes.get(mounts.get("/var/lib/balloond"), {}).get("hostPath", {}).get("path")
      == "/var/lib/balloond")
sc = container["securityContext"]
check("no privilege escalation", sc.get("allowPrivilegeEscalation") is False)
check("every capability dropped", sc.get("capabilities", {}).get("drop") == ["ALL"])
check("read-only root filesystem", sc.get("readOnlyRootFilesystem") is True)
check("seccomp RuntimeDefault", sc.get("seccompProfile", {}).get("type") == "RuntimeDefault")
ports = {p["name"]: p["containerPort"] for p in container["ports"]}
check("the metrics port is exposed", ports.get("metrics") == 9464)
check("metrics_address serves that port", '"0.0.0.0:9464"' in config)
for probe in ("startupProbe", "readinessProbe"):
    check(probe + " runs balloonctl health",
          container[probe]["exec"]["command"][0] == "balloonctl"
          and "health" in container[probe]["exec"]["command"])
for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
    check(probe + " goes through the read-write socket (no local user can crowd it out)",
          "--socket=/run/balloond/balloond.sock" in container[probe]["exec"]["command"])
check("no hostPort: the node's network does not expose balloond",
      all("hostPort" not in p for p in container["ports"]))
policy = next((d for d in docs if d["kind"] == "NetworkPolicy"), None)
check("a NetworkPolicy admits only chosen namespaces to the TLS port",
      policy is not None and policy["spec"]["policyTypes"] == ["Ingress"]
      and all(rule.get("from") for rule in policy["spec"]["ingress"])
      and any({"port": 7443, "protocol": "TCP"} in rule.get("ports", [])
              for rule in policy["spec"]["ingress"]))
check("the liveness probe does not depend on libvirtd",
      "health" not in container["livenessProbe"]["exec"]["command"])
# The ConfigMap's config, as balloond parses it (with its TLS files, which are not here: only a
# missing-file error is acceptable, never a parse error).
with tempfile.TemporaryDirectory() as scratch:
    path = scratch + "/balloond.textproto"
    with open(path, "w") as f:
        f.write(config)
    run = subprocess.run([sys.argv[2], "--config=" + path, "--connect=test:///default",
                          "--listen=unix:%s/a.sock" % scratch, "--listen-ro=unix:%s/b.sock" % scratch,
                          "--state-dir=%s/state" % scratch],
                         capture_output=True, text=True, timeout=20)
    check("balloond parses the ConfigMap's config (%s)" % run.stderr.strip().splitlines()[-1:],
          ".textproto:" not in run.stderr)
print("kubernetes: every check passed" if not failures else "kubernetes: %d checks failed" % len(failures))
sys.exit(1 if failures else 0)
