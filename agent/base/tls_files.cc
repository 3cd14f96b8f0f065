#include "agent/base/tls_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/base/files.h"

namespace balloond {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;

absl::StatusOr<std::string> ReadFile(absl::string_view flag, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, " is not set"));
  auto text = ReadWholeFile(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(), absl::StrCat(flag, ": ", text.status().message()));
  }
  return text;
}

// OpenSSL's reason for the last failure, and its error queue cleared.
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no PEM data";
  const char* reason = ERR_reason_error_string(code);
  return reason ? reason : "unknown OpenSSL error";
}

std::string NameText(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

absl::Time AsnTime(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromTM(tm, absl::UTCTimeZone());
}

CertificateInfo Describe(X509* cert) {
  CertificateInfo info;
  info.subject = NameText(X509_get_subject_name(cert));
  info.issuer = NameText(X509_get_issuer_name(cert));
  const X509_NAME* subject = X509_get_subject_name(cert);
  const int cn = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (cn >= 0) {
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, cn));
    info.common_name.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                            ASN1_STRING_length(data));
  }
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  absl::Cleanup free_names = [names] { GENERAL_NAMES_free(names); };
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_DNS && n->type != GEN_URI) continue;
    const ASN1_IA5STRING* s = n->type == GEN_DNS ? n->d.dNSName : n->d.uniformResourceIdentifier;
    std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                      ASN1_STRING_length(s));
    (n->type == GEN_DNS ? info.dns_names : info.uris).push_back(std::move(value));
  }
  info.not_before = AsnTime(X509_get0_notBefore(cert));
  info.not_after = AsnTime(X509_get0_notAfter(cert));
  return info;
}

}  // namespace

std::string CertificateInfo::Describe() const {
  std::vector<std::string> parts;
  if (!common_name.empty()) parts.push_back(absl::StrCat("CN ", common_name));
  for (const auto& u : uris) parts.push_back(absl::StrCat("SAN URI ", u));
  for (const auto& d : dns_names) parts.push_back(absl::StrCat("SAN DNS ", d));
  if (parts.empty()) parts.push_back(absl::StrCat("subject '", subject, "'"));
  return absl::StrJoin(parts, ", ");
}

absl::StatusOr<std::vector<CertificateInfo>> ReadCertificates(absl::string_view flag,
                                                              const std::string& path,
                                                              std::string* pem) {
  auto text = ReadFile(flag, path);
  if (!text.ok()) return text.status();
  BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  std::vector<CertificateInfo> certs;
  for (;;) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    certs.push_back(Describe(cert.get()));
  }
  ERR_clear_error();  // the end of the file reads as an error
  if (certs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " ", path, ": no PEM certificate in it (\"-----BEGIN CERTIFICATE-----\")"));
  }
  if (pem != nullptr) *pem = std::move(*text);
  return certs;
}

absl::StatusOr<KeyPair> ReadKeyPair(absl::string_view cert_flag, const std::string& cert_path,
                                    absl::string_view key_flag, const std::string& key_path) {
  KeyPair pair;
  auto certs = ReadCertificates(cert_flag, cert_path, &pair.certificate_pem);
  if (!certs.ok()) return certs.status();
  pair.leaf = certs->front();
  auto key_text = ReadFile(key_flag, key_path);
  if (!key_text.ok()) return key_text.status();
  pair.key_pem = std::move(*key_text);

  BioPtr key_bio(BIO_new_mem_buf(pair.key_pem.data(), static_cast<int>(pair.key_pem.size())));
  KeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return absl::InvalidArgumentError(
        absl::StrCat(key_flag, " ", key_path, ": not a PEM private key (", OpenSslError(),
                     "); an encrypted key needs its passphrase removed"));
  }
  BioPtr cert_bio(
      BIO_new_mem_buf(pair.certificate_pem.data(), static_cast<int>(pair.certificate_pem.size())));
  X509Ptr leaf(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!leaf || X509_check_private_key(leaf.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        key_flag, " ", key_path, " is not the key of the certificate in ", cert_flag, " ",
        cert_path, " (", pair.leaf.Describe(), "); give the key that was made with it"));
  }
  return pair;
}

absl::Status CheckValidity(absl::string_view flag, const CertificateInfo& cert, absl::Time now) {
  const auto when = [](absl::Time t) {
    return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
  };
  if (now > cert.not_after) {
    return absl::FailedPreconditionError(absl::StrCat("the certificate in ", flag, " (",
                                                      cert.Describe(), ") expired on ",
                                                      when(cert.not_after), "; renew it"));
  }
  if (now < cert.not_before) {
    return absl::FailedPreconditionError(
        absl::StrCat("the certificate in ", flag, " (", cert.Describe(), ") is not valid before ",
                     when(cert.not_before), "; check this machine's clock"));
  }
  return absl::OkStatus();
}

}  // namespace balloond
