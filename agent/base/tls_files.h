#ifndef BALLOOND_AGENT_BASE_TLS_FILES_H_
#define BALLOOND_AGENT_BASE_TLS_FILES_H_

// The certificate files of balloond's TLS listener and balloonctl's --server, read and checked
// before gRPC gets them: gRPC's own errors for a bad file are a log line and a channel that never
// connects, which tells the user nothing.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace balloond {

// What a certificate says about who holds it.
struct CertificateInfo {
  std::string subject;  // e.g. "CN=reader1,O=example"
  std::string issuer;
  std::string common_name;
  std::vector<std::string> dns_names;  // subjectAltName DNS entries
  std::vector<std::string> uris;       // subjectAltName URI entries, e.g. a SPIFFE ID
  absl::Time not_before;
  absl::Time not_after;

  // "CN reader1, SAN URI spiffe://example.org/reader, SAN DNS reader.example.org".
  std::string Describe() const;
};

// A certificate (chain) and its private key, as PEM text, checked to belong together.
struct KeyPair {
  std::string certificate_pem;
  std::string key_pem;
  CertificateInfo leaf;
};

// Reads a PEM certificate file (a chain: the first is the leaf). `flag` names the setting in
// errors ("--tls-cert"). INVALID_ARGUMENT (or NOT_FOUND / PERMISSION_DENIED for the file) with the
// path and what is wrong.
absl::StatusOr<std::vector<CertificateInfo>> ReadCertificates(absl::string_view flag,
                                                              const std::string& path,
                                                              std::string* pem = nullptr);

// Reads a certificate file and its key file and checks the key is the certificate's.
absl::StatusOr<KeyPair> ReadKeyPair(absl::string_view cert_flag, const std::string& cert_path,
                                    absl::string_view key_flag, const std::string& key_path);

// FAILED_PRECONDITION when `cert` is not valid at `now` (expired, or not yet valid), saying when.
absl::Status CheckValidity(absl::string_view flag, const CertificateInfo& cert, absl::Time now);

}  // namespace balloond

#endif  // BALLOOND_AGENT_BASE_TLS_FILES_H_
