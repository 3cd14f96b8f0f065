#include "agent/api/tls_staging.h"

#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "agent/base/files.h"
#include "agent/base/log.h"
#include "agent/base/tls_files.h"

namespace balloond {

StagedTlsFiles::StagedTlsFiles(TlsSettings tls, std::string dir, Clock& clock)
    : tls_(std::move(tls)),
      dir_(std::move(dir)),
      clock_(clock),
      identity_path_(dir_ + "/identity.pem"),
      client_ca_path_(dir_ + "/client-ca.pem") {}

absl::StatusOr<std::unique_ptr<StagedTlsFiles>> StagedTlsFiles::Start(const TlsSettings& tls,
                                                                      const std::string& dir,
                                                                      absl::Duration refresh,
                                                                      Clock& clock) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);  // copies left by a balloond that crashed
  if (absl::Status s = EnsureDirectory(dir, "TLS staging directory"); !s.ok()) return s;
  if (chmod(dir.c_str(), 0700) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot make ", dir, " private"));
  }
  std::unique_ptr<StagedTlsFiles> staged(new StagedTlsFiles(tls, dir, clock));
  if (absl::Status s = staged->Refresh(clock.Now()); !s.ok()) return s;
  staged->watcher_ = std::thread([raw = staged.get(), refresh] { raw->Watch(refresh); });
  return staged;
}

StagedTlsFiles::~StagedTlsFiles() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (watcher_.joinable()) watcher_.join();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void StagedTlsFiles::Watch(absl::Duration refresh) {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (clock_.AwaitWithTimeout(mu_, absl::Condition(&stopping_), refresh)) return;
    }
    const absl::Status s = Refresh(clock_.Now());
    const std::string problem(s.message());
    if (!s.ok() && problem != last_problem_) {
      Log(LogLevel::kWarning, absl::StrCat("TLS files not taken, the ones in use stay: ", problem));
    } else if (s.ok() && !last_problem_.empty()) {
      Log("TLS files check out again");
    }
    last_problem_ = s.ok() ? "" : problem;
  }
}

absl::Status StagedTlsFiles::Refresh(absl::Time now) {
  auto pair = ReadKeyPair("--tls-cert", tls_.cert_file, "--tls-key", tls_.key_file);
  if (!pair.ok()) return pair.status();
  if (absl::Status s = CheckValidity("--tls-cert", pair->leaf, now); !s.ok()) return s;
  std::string ca_pem;
  if (auto ca = ReadCertificates("--tls-client-ca", tls_.client_ca_file, &ca_pem); !ca.ok()) {
    return ca.status();
  }
  // The key first: gRPC reads the key from the file's first key block and the chain from its
  // certificate blocks.
  const std::string identity = pair->key_pem + "\n" + pair->certificate_pem;
  if (identity != staged_identity_) {
    if (absl::Status s = WriteFileAtomically(identity_path_, identity, 0600); !s.ok()) return s;
    staged_identity_ = identity;
  }
  if (ca_pem != staged_ca_) {
    if (absl::Status s = WriteFileAtomically(client_ca_path_, ca_pem, 0600); !s.ok()) return s;
    staged_ca_ = ca_pem;
  }
  return absl::OkStatus();
}

}  // namespace balloond
