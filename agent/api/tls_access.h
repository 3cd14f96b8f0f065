#ifndef BALLOOND_AGENT_API_TLS_ACCESS_H_
#define BALLOOND_AGENT_API_TLS_ACCESS_H_

#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/api/server_settings.h"
#include "agent/api/tls_staging.h"

namespace balloond {

// Who a TLS client is, as its verified certificate says.
struct PeerIdentity {
  std::string common_name;
  std::vector<std::string> uris;       // subjectAltName URIs (a SPIFFE ID, say)
  std::vector<std::string> dns_names;  // subjectAltName DNS names

  // The identity to name the client by (rate limits, logs): its first URI, DNS name, or CN.
  std::string Name() const;
  // "CN reader1, SAN URI spiffe://..., SAN DNS ...".
  std::string Describe() const;
};

// An identity that may change balloond: one name of a client certificate, of one kind. A name only
// matches the same kind of name (a requester who may choose a certificate's CN cannot pose as a
// SAN URI), and a CN only counts on a certificate without subjectAltNames (RFC 6125).
struct OperatorIdentity {
  enum class Kind { kUri, kDns, kCommonName };
  Kind kind = Kind::kUri;
  std::string name;
  // As --tls-operator takes it: "spiffe://...", "dns:host.example.org", "cn:reader".
  std::string Flag() const;
};

// "uri:NAME", "dns:NAME", "cn:NAME", or a bare URI (which has a scheme: "spiffe://...", "urn:...").
// INVALID_ARGUMENT for anything else, saying how to write a DNS name or a CN.
absl::StatusOr<OperatorIdentity> ParseOperatorIdentity(absl::string_view text);

// The identity in a TLS call's auth context (gRPC's x509 properties).
PeerIdentity PeerIdentityOf(const grpc::AuthContext& context);

// Whether one of the names of `peer` is one of `operators`.
bool IsOperator(const PeerIdentity& peer, const std::vector<OperatorIdentity>& operators);

// Who may call `method` ("/package.Service/Method"): every client the CA vouches for may read
// (and use health and reflection); only an identity listed in `operators` may call
// BalloonControlService. PERMISSION_DENIED names the identity seen and the setting that allows it.
absl::Status Authorize(absl::string_view method, const PeerIdentity& peer,
                       const std::vector<OperatorIdentity>& operators);

// The one authorization step of the TLS listener: it runs in front of every service, before any
// handler, on the metadata of each call.
class RoleAuthorizer final : public grpc::AuthMetadataProcessor {
 public:
  // `operators` as ParseOperatorIdentity takes them (ValidateTlsSettings has checked them).
  explicit RoleAuthorizer(const std::vector<std::string>& operators);
  const std::vector<OperatorIdentity>& operators() const { return operators_; }
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  std::vector<OperatorIdentity> operators_;
};

// Server credentials for the TLS listener: balloond's certificate and key, client certificates
// required and verified against the client CA, the staged copies of the files watched for rotation
// (StagedTlsFiles replaces them only with files that check out), and roles enforced by a
// RoleAuthorizer.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeTlsServerCredentials(
    const StagedTlsFiles& files, std::shared_ptr<RoleAuthorizer> authorizer);

// How often the TLS files are read again for rotation.
inline constexpr unsigned kTlsRefreshSeconds = 5;

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_TLS_ACCESS_H_
