#include "agent/libvirt/libvirt_glue.h"

#include <libvirt/virterror.h>

#include <algorithm>
#include <cstdlib>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"

namespace balloond {

// LibvirtRunState (libvirt_stats.cc, which does without libvirt's headers) takes these values.
static_assert(VIR_DOMAIN_RUNNING == 1 && VIR_DOMAIN_PAUSED == 3 && VIR_DOMAIN_SHUTDOWN == 4);

absl::Status LastLibvirtError(absl::string_view what) {
  const virError* err = virGetLastError();
  std::string message =
      absl::StrCat(what, ": ", err && err->message ? err->message : "unknown libvirt error");
  if (err == nullptr) return absl::UnknownError(message);
  switch (err->code) {
    case VIR_ERR_NO_DOMAIN:
      return absl::NotFoundError(message);
    case VIR_ERR_OPERATION_INVALID:
    case VIR_ERR_CONFIG_UNSUPPORTED:
      return absl::FailedPreconditionError(message);
    case VIR_ERR_INVALID_ARG:
      return absl::InvalidArgumentError(message);
    case VIR_ERR_OPERATION_TIMEOUT:  // e.g. "cannot acquire state change lock": a busy domain
      return absl::DeadlineExceededError(message);
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_INVALID_CONN:
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
    case VIR_ERR_AUTH_FAILED:
      return absl::UnavailableError(message);
    case VIR_ERR_NO_SUPPORT:
      return absl::UnimplementedError(message);
    default:
      return absl::UnknownError(message);
  }
}

std::string TakeLibvirtString(char* text) {
  absl::Cleanup free_text = [text] { free(text); };
  return text != nullptr ? std::string(text) : std::string();
}

std::string UuidOf(virDomainPtr dom) {
  char uuid[VIR_UUID_STRING_BUFLEN];
  return virDomainGetUUIDString(dom, uuid) == 0 ? uuid : "";
}

void Identify(virDomainPtr dom, DomainInfo& info) {
  const char* name = virDomainGetName(dom);
  info.name = name ? name : "";
  info.uuid = UuidOf(dom);
  info.id = static_cast<int>(virDomainGetID(dom));
}

absl::StatusOr<DomainInfo> DescribeDomain(virDomainPtr dom) {
  DomainInfo info;
  Identify(dom, info);
  virDomainInfo vinfo;
  if (virDomainGetInfo(dom, &vinfo) < 0) return LastLibvirtError("virDomainGetInfo");
  info.state = LibvirtRunState(vinfo.state);
  info.active = vinfo.state != VIR_DOMAIN_SHUTOFF;
  info.max_memory_bytes = static_cast<int64_t>(vinfo.maxMem) * 1024;
  return info;
}

std::vector<StatParam> StatParams(const virDomainStatsRecord& record) {
  std::vector<StatParam> out;
  out.reserve(record.nparams);
  for (int i = 0; i < record.nparams; ++i) {
    const virTypedParameter& p = record.params[i];
    uint64_t value;
    switch (p.type) {
      case VIR_TYPED_PARAM_INT:
        value = static_cast<uint64_t>(std::max(0, p.value.i));
        break;
      case VIR_TYPED_PARAM_UINT:
        value = p.value.ui;
        break;
      case VIR_TYPED_PARAM_LLONG:
        value = static_cast<uint64_t>(std::max<long long>(0, p.value.l));
        break;
      case VIR_TYPED_PARAM_ULLONG:
        value = p.value.ul;
        break;
      default:
        continue;
    }
    out.emplace_back(p.field, value);
  }
  return out;
}

}  // namespace balloond
