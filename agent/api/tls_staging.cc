#include "agent/api/tls_staging.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/base/files.h"
#include "agent/base/log.h"
#include "agent/base/tls_files.h"

namespace balloond {
namespace {

constexpr char kStagingPrefix[] = "tls.";
constexpr char kIdentityFile[] = "identity.pem";
constexpr char kClientCaFile[] = "client-ca.pem";

// The names balloond writes in its staging directory: the two files, and the temporary files they
// are written through (NAME.XXXXXX).
bool IsStagedName(absl::string_view name) {
  for (absl::string_view file : {kIdentityFile, kClientCaFile}) {
    if (name == file) return true;
    if (absl::StartsWith(name, absl::StrCat(file, ".")) && name.size() == file.size() + 7) {
      return true;
    }
  }
  return false;
}

bool IsStagingName(absl::string_view name) {
  return absl::StartsWith(name, kStagingPrefix) && name.size() == sizeof(kStagingPrefix) - 1 + 6;
}

// Whether `file` (links resolved) is in a directory tls.XXXXXX under `parent`.
bool InStagingDirectory(const std::string& file, const std::string& parent) {
  std::error_code ec;
  const auto real = std::filesystem::weakly_canonical(file, ec);
  const auto real_parent = std::filesystem::weakly_canonical(parent, ec);
  if (ec) return false;
  for (auto dir = real.parent_path(); !dir.empty() && dir != dir.root_path();
       dir = dir.parent_path()) {
    if (dir.parent_path() == real_parent && IsStagingName(dir.filename().string())) return true;
  }
  return false;
}

// Removes what balloond staged in the open directory `dir`; false when it holds anything else.
bool RemoveStaged(int dir) {
  const int listing = dup(dir);
  if (listing < 0) return false;
  DIR* entries = fdopendir(listing);
  if (entries == nullptr) {
    close(listing);
    return false;
  }
  std::vector<std::string> names;
  bool only_ours = true;
  while (dirent* e = readdir(entries)) {
    const absl::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    if (IsStagedName(name)) {
      names.emplace_back(name);
    } else {
      only_ours = false;
    }
  }
  closedir(entries);
  if (!only_ours) return false;
  for (const std::string& name : names) unlinkat(dir, name.c_str(), 0);
  return true;
}

// Staging directories of a balloond that crashed: tls.XXXXXX under `parent`, owned by this user,
// holding only staged files. Anything else is left alone (and never followed: a symbolic link is
// not opened).
void RemoveLeftovers(const std::string& parent) {
  const int parent_fd = open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (parent_fd < 0) return;
  absl::Cleanup close_parent = [parent_fd] { close(parent_fd); };
  std::vector<std::string> candidates;
  {
    const int listing = dup(parent_fd);
    DIR* entries = listing >= 0 ? fdopendir(listing) : nullptr;
    if (entries == nullptr) {
      if (listing >= 0) close(listing);
      return;
    }
    while (dirent* e = readdir(entries)) {
      const absl::string_view name = e->d_name;
      if (IsStagingName(name)) candidates.emplace_back(name);
    }
    closedir(entries);
  }
  for (const std::string& name : candidates) {
    const int dir =
        openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0) continue;
    struct stat st;
    const bool ours = fstat(dir, &st) == 0 && st.st_uid == geteuid() && RemoveStaged(dir);
    close(dir);
    if (ours) unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR);
  }
}

}  // namespace

StagedTlsFiles::StagedTlsFiles(TlsSettings tls, std::string dir, Clock& clock)
    : tls_(std::move(tls)),
      dir_(std::move(dir)),
      clock_(clock),
      identity_path_(absl::StrCat(dir_, "/", kIdentityFile)),
      client_ca_path_(absl::StrCat(dir_, "/", kClientCaFile)) {}

absl::StatusOr<std::unique_ptr<StagedTlsFiles>> StagedTlsFiles::Start(const TlsSettings& tls,
                                                                      const std::string& parent,
                                                                      absl::Duration refresh,
                                                                      Clock& clock) {
  if (absl::Status s = EnsureDirectory(parent, "runtime directory"); !s.ok()) return s;
  // balloond empties and removes its staging directories: no TLS file of the operator's may be in
  // one.
  for (const std::string* file : {&tls.cert_file, &tls.key_file, &tls.client_ca_file}) {
    if (InStagingDirectory(*file, parent)) {
      return absl::InvalidArgumentError(absl::StrCat(
          *file, " lies in a TLS staging directory of balloond's (", parent, "/", kStagingPrefix,
          "XXXXXX), which it empties and removes: keep TLS files elsewhere"));
    }
  }
  RemoveLeftovers(parent);
  std::string dir = parent + "/" + kStagingPrefix + "XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {  // made 0700, by this call: no one else's
    return absl::PermissionDeniedError(absl::StrCat("cannot make a directory in ", parent,
                                                    " for the TLS files: ", std::strerror(errno)));
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
  const int dir = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir >= 0) {
    RemoveStaged(dir);
    close(dir);
    rmdir(dir_.c_str());
  }
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
