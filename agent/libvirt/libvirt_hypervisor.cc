#include "agent/libvirt/libvirt_hypervisor.h"

#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "agent/base/error_reason.h"
#include "agent/libvirt/domain_ref.h"
#include "agent/libvirt/libvirt_glue.h"
#include "agent/libvirt/libvirt_stats.h"
#include "agent/libvirt/policy_metadata.h"

namespace balloond {

LibvirtHypervisor::LibvirtHypervisor(std::string uri, Clock& clock, DomainChangeListener& changes,
                                     CallMeter& meter)
    : clock_(clock),
      meter_(meter),
      events_(std::make_shared<LibvirtEvents>(changes)),
      connections_(std::move(uri), clock, events_),
      stats_(connections_) {}

LibvirtHypervisor::~LibvirtHypervisor() { events_->Close(); }

absl::StatusOr<std::vector<DomainStats>> LibvirtHypervisor::CollectStats(
    absl::Time deadline, const CollectionFilter& filter) {
  return Meter("collect_stats", [&] { return stats_.Collect(deadline, filter); });
}

// Each call writes its answer into what it owns: a call whose caller left at the deadline runs on.

absl::StatusOr<DomainInfo> LibvirtHypervisor::LookupDomain(absl::string_view name_or_uuid,
                                                           absl::Time deadline) {
  return Meter("lookup_domain", [&]() -> absl::StatusOr<DomainInfo> {
    auto info = std::make_shared<absl::StatusOr<DomainInfo>>();
    absl::Status s = connections_.Run(
        "", deadline,
        [info, ref = std::string(name_or_uuid)](LibvirtConnection& c) -> absl::Status {
          // A UUID first: a domain may be named like another one's UUID.
          virDomainPtr dom = nullptr;
          if (LooksLikeUuid(ref)) dom = virDomainLookupByUUIDString(c.get(), ref.c_str());
          if (dom == nullptr) dom = virDomainLookupByName(c.get(), ref.c_str());
          if (dom == nullptr) {
            absl::Status status = LastLibvirtError("looking up domain");
            if (status.code() != absl::StatusCode::kNotFound) return status;
            *info = WithReason(absl::NotFoundError(absl::StrCat("no domain named '", ref,
                                                                "' (see `virsh list --all` or "
                                                                "`balloonctl list`)")),
                               "DOMAIN_NOT_FOUND", {{"domain", ref}});
            return absl::OkStatus();
          }
          DomainHandle holder(dom);
          *info = DescribeDomain(dom);
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    return std::move(*info);
  });
}

absl::StatusOr<DomainConfig> LibvirtHypervisor::ReadConfig(const std::string& uuid,
                                                           absl::Time deadline) {
  return Meter("read_config", [&]() -> absl::StatusOr<DomainConfig> {
    auto config = std::make_shared<absl::StatusOr<DomainConfig>>();
    absl::Status s =
        connections_.RunOnDomain(uuid, deadline, [config](virDomainPtr dom) -> absl::Status {
          char* xml = virDomainGetXMLDesc(dom, 0);
          if (xml == nullptr) return LastLibvirtError("reading the domain's XML");
          *config = ParseDomainXml(TakeLibvirtString(xml));
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    return std::move(*config);
  });
}

absl::Status LibvirtHypervisor::SetBalloonTarget(const std::string& uuid, int64_t target_bytes,
                                                 absl::Time deadline) {
  const unsigned long kib = static_cast<unsigned long>(target_bytes / 1024);
  return Meter("set_balloon_target", [&] {
    return connections_.RunOnDomain(uuid, deadline, [kib](virDomainPtr dom) -> absl::Status {
      if (virDomainSetMemoryFlags(dom, kib, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        return LastLibvirtError("setting the balloon target");
      }
      return absl::OkStatus();
    });
  });
}

namespace {

// Asks the guest to plug `requested_bytes` on virtio-mem device `alias`, found in its live XML.
absl::Status ResizeMemoryDevice(virDomainPtr dom, const std::string& alias,
                                int64_t requested_bytes) {
  char* xml = virDomainGetXMLDesc(dom, 0);
  if (xml == nullptr) return LastLibvirtError("reading the domain's XML");
  auto config = ParseDomainXml(TakeLibvirtString(xml));
  if (!config.ok()) return config.status();
  const MemoryDevice* device = nullptr;
  for (const MemoryDevice& d : config->memory_devices) {
    if (d.alias == alias) device = &d;
  }
  if (device == nullptr) {
    return absl::NotFoundError(absl::StrCat("the domain has no virtio-mem device '", alias, "'"));
  }
  if (requested_bytes < 0 || requested_bytes > device->size_bytes ||
      requested_bytes % device->block_bytes != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "virtio-mem device '", alias, "' plugs whole blocks of ", device->block_bytes,
        " bytes up to ", device->size_bytes, " bytes; ", requested_bytes, " bytes is not that"));
  }
  auto update = WithRequestedSize(device->xml, requested_bytes);
  if (!update.ok()) return update.status();
  if (virDomainUpdateDeviceFlags(dom, update->c_str(), VIR_DOMAIN_AFFECT_LIVE) < 0) {
    return LastLibvirtError("resizing the virtio-mem device");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status LibvirtHypervisor::SetMemoryDeviceRequest(const std::string& uuid,
                                                       const std::string& alias,
                                                       int64_t requested_bytes,
                                                       absl::Time deadline) {
  absl::Status s = Meter("set_memory_device_request", [&] {
    return connections_.RunOnDomain(uuid, deadline, [alias, requested_bytes](virDomainPtr dom) {
      return ResizeMemoryDevice(dom, alias, requested_bytes);
    });
  });
  // libvirt tells of the size the guest plugs, not of the new request: the definition is read
  // again as if it had.
  if (s.ok()) events_->Notify(uuid);
  return s;
}

absl::Status LibvirtHypervisor::SetStatsPeriod(const std::string& uuid, int seconds,
                                               absl::Time deadline) {
  return Meter("set_stats_period", [&] {
    return connections_.RunOnDomain(uuid, deadline, [seconds](virDomainPtr dom) -> absl::Status {
      if (virDomainSetMemoryStatsPeriod(dom, seconds, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        return LastLibvirtError("setting the statistics period");
      }
      return absl::OkStatus();
    });
  });
}

absl::StatusOr<bool> LibvirtHypervisor::JobActive(const std::string& uuid, absl::Time deadline) {
  return Meter("job_active", [&]() -> absl::StatusOr<bool> {
    auto active = std::make_shared<bool>(false);
    absl::Status s =
        connections_.RunOnDomain(uuid, deadline, [active](virDomainPtr dom) -> absl::Status {
          virDomainJobInfo info;
          if (virDomainGetJobInfo(dom, &info) < 0) {
            return LastLibvirtError("reading the domain's job");
          }
          *active = info.type != VIR_DOMAIN_JOB_NONE && info.type != VIR_DOMAIN_JOB_COMPLETED &&
                    info.type != VIR_DOMAIN_JOB_FAILED && info.type != VIR_DOMAIN_JOB_CANCELLED;
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    return *active;
  });
}

absl::StatusOr<std::string> LibvirtHypervisor::ReadPolicyMetadata(const std::string& uuid,
                                                                  absl::Time deadline) {
  return Meter("read_metadata", [&]() -> absl::StatusOr<std::string> {
    auto element = std::make_shared<std::string>();
    absl::Status s =
        connections_.RunOnDomain(uuid, deadline, [element](virDomainPtr dom) -> absl::Status {
          char* xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
                                           kPolicyMetadataNamespace, VIR_DOMAIN_AFFECT_CURRENT);
          if (xml == nullptr) {
            virErrorPtr error = virGetLastError();
            if (error != nullptr && error->code == VIR_ERR_NO_DOMAIN_METADATA) {
              return absl::OkStatus();
            }
            return LastLibvirtError("reading the domain's metadata");
          }
          *element = TakeLibvirtString(xml);
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    return std::move(*element);
  });
}

absl::Status LibvirtHypervisor::WritePolicyMetadata(const std::string& uuid,
                                                    const std::string& element,
                                                    absl::Time deadline) {
  return Meter("write_metadata", [&] {
    return connections_.RunOnDomain(uuid, deadline, [element](virDomainPtr dom) -> absl::Status {
      // A transient domain has no definition to write; a domain that is not running, no live one.
      unsigned int flags = 0;
      if (virDomainIsActive(dom) == 1) flags |= VIR_DOMAIN_AFFECT_LIVE;
      if (virDomainIsPersistent(dom) == 1) flags |= VIR_DOMAIN_AFFECT_CONFIG;
      if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
                               element.empty() ? nullptr : element.c_str(), kPolicyMetadataPrefix,
                               kPolicyMetadataNamespace, flags) < 0) {
        return LastLibvirtError("writing the domain's metadata");
      }
      return absl::OkStatus();
    });
  });
}

absl::StatusOr<std::string> LibvirtHypervisor::RunQmp(const std::string& uuid,
                                                      const std::string& command,
                                                      absl::Time deadline) {
  return Meter("qmp_passthrough", [&]() -> absl::StatusOr<std::string> {
    auto reply = std::make_shared<std::string>();
    absl::Status s = connections_.RunOnDomain(uuid, deadline, [reply, command](virDomainPtr dom) {
      char* out = nullptr;
      if (virDomainQemuMonitorCommand(dom, command.c_str(), &out, 0) < 0) {
        return LastLibvirtError("QMP command");
      }
      *reply = TakeLibvirtString(out);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return std::move(*reply);
  });
}

}  // namespace balloond
