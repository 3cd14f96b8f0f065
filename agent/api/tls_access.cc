#include "agent/api/tls_access.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "agent/api/proto_convert.h"
#include "agent/base/error_reason.h"
#include "agent/base/tls_files.h"

namespace balloond {
namespace {

constexpr absl::string_view kControlService = "/balloon.v1.BalloonControlService/";

std::vector<std::string> Values(const grpc::AuthContext& context, const char* property) {
  std::vector<std::string> out;
  for (const grpc::string_ref& v : context.FindPropertyValues(property)) {
    out.emplace_back(v.data(), v.size());
  }
  return out;
}

}  // namespace

std::string PeerIdentity::Name() const {
  if (!uris.empty()) return uris.front();
  if (!dns_names.empty()) return dns_names.front();
  return common_name;
}

std::string PeerIdentity::Describe() const {
  std::vector<std::string> parts;
  if (!common_name.empty()) parts.push_back(absl::StrCat("CN ", common_name));
  for (const auto& u : uris) parts.push_back(absl::StrCat("SAN URI ", u));
  for (const auto& d : dns_names) parts.push_back(absl::StrCat("SAN DNS ", d));
  return parts.empty() ? "no name at all" : absl::StrJoin(parts, ", ");
}

std::string OperatorIdentity::Flag() const {
  switch (kind) {
    case Kind::kUri:
      return name;
    case Kind::kDns:
      return absl::StrCat("dns:", name);
    case Kind::kCommonName:
      return absl::StrCat("cn:", name);
  }
  return name;
}

absl::StatusOr<OperatorIdentity> ParseOperatorIdentity(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("an operator identity is empty");
  OperatorIdentity id;
  if (absl::ConsumePrefix(&text, "uri:")) {
    id.kind = OperatorIdentity::Kind::kUri;
  } else if (absl::ConsumePrefix(&text, "dns:")) {
    id.kind = OperatorIdentity::Kind::kDns;
  } else if (absl::ConsumePrefix(&text, "cn:")) {
    id.kind = OperatorIdentity::Kind::kCommonName;
  } else if (text.find(':') == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "operator identity '", text, "' is neither typed nor a URI: write dns:", text,
        " for a subjectAltName DNS name, cn:", text,
        " for a certificate's common name (only used when it has no subjectAltName), or a SAN "
        "URI such as spiffe://example.org/operator"));
  }
  if (text.empty()) return absl::InvalidArgumentError("an operator identity is empty");
  id.name = std::string(text);
  return id;
}

PeerIdentity PeerIdentityOf(const grpc::AuthContext& context) {
  PeerIdentity peer;
  auto cn = Values(context, "x509_common_name");
  if (!cn.empty()) peer.common_name = cn.front();
  peer.uris = Values(context, "peer_uri");
  peer.dns_names = Values(context, "peer_dns");
  return peer;
}

bool IsOperator(const PeerIdentity& peer, const std::vector<OperatorIdentity>& operators) {
  const bool has_san = !peer.uris.empty() || !peer.dns_names.empty();
  auto has = [](const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  for (const OperatorIdentity& op : operators) {
    if (op.name.empty()) continue;
    const bool match = op.kind == OperatorIdentity::Kind::kUri ? has(peer.uris, op.name)
                       : op.kind == OperatorIdentity::Kind::kDns
                           ? has(peer.dns_names, op.name)
                           : !has_san && peer.common_name == op.name;
    if (match) return true;
  }
  return false;
}

absl::Status Authorize(absl::string_view method, const PeerIdentity& peer,
                       const std::vector<OperatorIdentity>& operators) {
  if (!absl::StartsWith(method, kControlService)) return absl::OkStatus();
  if (IsOperator(peer, operators)) return absl::OkStatus();
  // The identity that would allow this client, as the flag takes it.
  OperatorIdentity suggested;
  if (!peer.uris.empty()) {
    suggested = {OperatorIdentity::Kind::kUri, peer.uris.front()};
  } else if (!peer.dns_names.empty()) {
    suggested = {OperatorIdentity::Kind::kDns, peer.dns_names.front()};
  } else {
    suggested = {OperatorIdentity::Kind::kCommonName,
                 peer.common_name.empty() ? "NAME" : peer.common_name};
  }
  const std::string example = suggested.Flag();
  return WithReason(absl::PermissionDeniedError(absl::StrCat(
                        "the client certificate (", peer.Describe(),
                        ") may read but not change balloond (", method.substr(1),
                        "): none of its names is an operator. To allow it, start balloond with "
                        "--tls-operator=",
                        example, " (tls { operators: \"", example, "\" } in its config)")),
                    "NOT_AN_OPERATOR");
}

RoleAuthorizer::RoleAuthorizer(const std::vector<std::string>& operators) {
  for (const std::string& text : operators) {
    if (auto id = ParseOperatorIdentity(text); id.ok()) operators_.push_back(*id);
  }
}

grpc::Status RoleAuthorizer::Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                                     OutputMetadata*, OutputMetadata*) {
  auto path = auth_metadata.find(":path");
  const absl::string_view method =
      path == auth_metadata.end() ? absl::string_view()
                                  : absl::string_view(path->second.data(), path->second.size());
  return ToGrpcStatus(Authorize(method, PeerIdentityOf(*context), operators_));
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeTlsServerCredentials(
    const StagedTlsFiles& files, std::shared_ptr<RoleAuthorizer> authorizer) {
  // The staged copies: one file holds the key and its chain.
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.identity_path(), files.identity_path(), files.client_ca_path(), kTlsRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  std::shared_ptr<grpc::ServerCredentials> creds =
      grpc::experimental::TlsServerCredentials(options);
  if (!creds) return absl::InternalError("gRPC could not make TLS server credentials");
  creds->SetAuthMetadataProcessor(std::move(authorizer));
  return creds;
}

}  // namespace balloond
