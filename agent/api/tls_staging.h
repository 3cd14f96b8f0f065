#ifndef BALLOOND_AGENT_API_TLS_STAGING_H_
#define BALLOOND_AGENT_API_TLS_STAGING_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/api/server_settings.h"
#include "agent/base/clock.h"

namespace balloond {

// The TLS listener's files as gRPC reads them: copies, in a directory of balloond's own, of the
// operator's certificate, key and client CA, replaced only by files that check out (the key is the
// certificate's, the certificate is valid now, the CA parses). gRPC re-reads whatever its file
// watcher is pointed at, so rotated files that are broken, expired or half-written would otherwise
// cut every new connection off; here the old ones go on serving and the log says why.
// The certificate and key are staged as one PEM file (gRPC reads the key and the chain from it),
// replaced in one rename: gRPC never reads a key of one pair with the certificate of another.
class StagedTlsFiles {
 public:
  // Checks the operator's files (an error names the file and the flag), stages them in a directory
  // of its own that it makes under `parent` (tls.XXXXXX, mode 0700: nothing in it was there
  // before, nothing of anyone else's is ever removed), and re-checks them every `refresh`. Copies
  // left by a balloond that crashed are removed first, if they hold only its files. A TLS file
  // inside the staging directory is refused.
  static absl::StatusOr<std::unique_ptr<StagedTlsFiles>> Start(const TlsSettings& tls,
                                                               const std::string& parent,
                                                               absl::Duration refresh,
                                                               Clock& clock);
  ~StagedTlsFiles();  // stops watching, removes the copies and their directory
  StagedTlsFiles(const StagedTlsFiles&) = delete;
  StagedTlsFiles& operator=(const StagedTlsFiles&) = delete;

  const std::string& dir() const { return dir_; }
  // What gRPC's file watcher reads: the certificate chain and key together, and the client CA.
  const std::string& identity_path() const { return identity_path_; }
  const std::string& client_ca_path() const { return client_ca_path_; }

  // Checks the operator's files again and stages those that changed and check out: OK when all
  // are staged (or unchanged), the reason otherwise (the staged files then stay as they were).
  absl::Status Refresh(absl::Time now);

 private:
  StagedTlsFiles(TlsSettings tls, std::string dir, Clock& clock);
  void Watch(absl::Duration refresh);

  const TlsSettings tls_;
  const std::string dir_;
  Clock& clock_;
  const std::string identity_path_;
  const std::string client_ca_path_;
  std::string staged_identity_;  // what the staged files hold now (Refresh's thread only)
  std::string staged_ca_;
  std::string last_problem_;  // logged once until it changes
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread watcher_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_TLS_STAGING_H_
