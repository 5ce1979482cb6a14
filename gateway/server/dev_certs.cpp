#include "gateway/server/dev_certs.hpp"

#include <cstdio>
#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/output_file.hpp"

namespace relaygw::gateway::server {
namespace {

namespace fs = std::filesystem;

struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertDeleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct FileCloser {
  void operator()(FILE* file) const { std::fclose(file); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using CertPtr = std::unique_ptr<X509, CertDeleter>;
using FilePtr = std::unique_ptr<FILE, FileCloser>;

// The message of the most recent OpenSSL error, and clears the error queue.
std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) {
    return "no OpenSSL error recorded";
  }
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

Status internal(const std::string& what) {
  return Status(StatusCode::Internal, what + ": " + openssl_error());
}

Result<KeyPtr> new_key() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) {
    return internal("generating a P-256 key failed");
  }
  return key;
}

// Adds one X.509v3 extension given in OpenSSL's configuration syntax.
Status add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (extension == nullptr) {
    return internal(fmt::format("building extension {}={} failed", OBJ_nid2sn(nid), value));
  }
  const int added = X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
  if (added != 1) {
    return internal("adding an extension failed");
  }
  return Status::ok();
}

struct Extension {
  int nid;
  const char* value;
};

// Makes a certificate for `key` with subject CN `common_name`, signed by `issuer_key`. A null
// `issuer` makes it self-signed.
Result<CertPtr> make_certificate(EVP_PKEY* key, const std::string& common_name, X509* issuer,
                                 EVP_PKEY* issuer_key, int valid_days,
                                 const std::vector<Extension>& extensions) {
  CertPtr cert(X509_new());
  if (!cert) {
    return internal("X509_new failed");
  }
  X509_set_version(cert.get(), 2);  // X.509 v3

  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof(serial_bytes)) != 1) {
    return internal("generating a serial number failed");
  }
  serial_bytes[0] &= 0x7f;  // a positive serial
  BIGNUM* serial = BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);

  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(valid_days) * 24 * 3600);
  X509_set_pubkey(cert.get(), key);

  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("relaygw development"), -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));

  for (const Extension& extension : extensions) {
    Status added = add_extension(cert.get(), signer, extension.nid, extension.value);
    if (!added) {
      return added;
    }
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) {
    return internal("signing the certificate for CN=" + common_name + " failed");
  }
  return cert;
}

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

// Returns the bytes that `bio`, a memory BIO, holds.
std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

Status write_certificate(const fs::path& path, X509* cert) {
  BioPtr pem(BIO_new(BIO_s_mem()));
  if (!pem || PEM_write_bio_X509(pem.get(), cert) != 1) {
    return internal("encoding certificate '" + path.string() + "' as PEM failed");
  }
  return write_output_file(path.string(), bio_text(pem.get()), 0666);
}

// Writes the key readable by its owner only (mode 0600).
Status write_key(const fs::path& path, EVP_PKEY* key) {
  BioPtr pem(BIO_new(BIO_s_mem()));
  if (!pem ||
      PEM_write_bio_PrivateKey(pem.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return internal("encoding key '" + path.string() + "' as PEM failed");
  }
  return write_output_file(path.string(), bio_text(pem.get()), 0600);
}

// Reads the CA back from a previous run, or returns null pointers when either file is absent.
Status read_ca(const fs::path& cert_path, const fs::path& key_path, CertPtr& cert, KeyPtr& key) {
  std::error_code error;
  if (!fs::exists(cert_path, error) || !fs::exists(key_path, error)) {
    return Status::ok();
  }
  FilePtr cert_file(std::fopen(cert_path.c_str(), "rb"));
  FilePtr key_file(std::fopen(key_path.c_str(), "rb"));
  if (cert_file) {
    cert.reset(PEM_read_X509(cert_file.get(), nullptr, nullptr, nullptr));
  }
  if (key_file) {
    key.reset(PEM_read_PrivateKey(key_file.get(), nullptr, nullptr, nullptr));
  }
  if (!cert || !key) {
    return Status(StatusCode::Internal,
                  fmt::format("cannot read the existing CA '{}' and '{}': {}; delete both to make "
                              "a new CA",
                              cert_path.string(), key_path.string(), openssl_error()));
  }
  return Status::ok();
}

}  // namespace

bool is_valid_provider_id(const std::string& id) {
  if (id.empty() || id.size() > 64) {
    return false;
  }
  for (const char c : id) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!allowed) {
      return false;
    }
  }
  return true;
}

Result<DevCertificateFiles> generate_dev_certificates(const DevCertificateRequest& request) {
  for (const std::string& id : request.provider_ids) {
    if (!is_valid_provider_id(id)) {
      return Status(StatusCode::InvalidArgument,
                    fmt::format("invalid provider id '{}'; use 1 to 64 letters, digits, '-', '_' "
                                "or '.'",
                                id));
    }
    // These ids would overwrite the CA's or the server's own files.
    if (id == "ca" || id == "server") {
      return Status(StatusCode::InvalidArgument,
                    fmt::format("provider id '{}' is reserved for the {} certificate's files; "
                                "choose another id",
                                id, id == "ca" ? "CA" : "server"));
    }
  }
  if (request.valid_days < 1 || request.valid_days > 3650) {
    return Status(StatusCode::InvalidArgument,
                  fmt::format("invalid validity of {} days; use 1 to 3650", request.valid_days));
  }
  const fs::path dir(request.out_dir);
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) {
    return Status(StatusCode::Internal,
                  fmt::format("cannot create folder '{}': {}", request.out_dir, error.message()));
  }

  DevCertificateFiles files;
  files.ca_certificate = (dir / "ca.pem").string();
  files.ca_key = (dir / "ca-key.pem").string();
  files.server_certificate = (dir / "server.pem").string();
  files.server_key = (dir / "server-key.pem").string();

  CertPtr ca;
  KeyPtr ca_key;
  Status read = read_ca(files.ca_certificate, files.ca_key, ca, ca_key);
  if (!read) {
    return read;
  }
  if (!ca) {
    auto key = new_key();
    if (!key) {
      return key.status();
    }
    ca_key = std::move(key).value();
    auto cert = make_certificate(ca_key.get(), "relaygw development CA", nullptr, ca_key.get(),
                                 request.valid_days,
                                 {{NID_basic_constraints, "critical,CA:TRUE"},
                                  {NID_key_usage, "critical,keyCertSign,cRLSign"},
                                  {NID_subject_key_identifier, "hash"}});
    if (!cert) {
      return cert.status();
    }
    ca = std::move(cert).value();
    for (Status written : {write_certificate(files.ca_certificate, ca.get()),
                           write_key(files.ca_key, ca_key.get())}) {
      if (!written) {
        return written;
      }
    }
  }

  // The server certificate: the listener's identity for clients that verify the host name.
  auto server_key = new_key();
  if (!server_key) {
    return server_key.status();
  }
  auto server =
      make_certificate(server_key->get(), "localhost", ca.get(), ca_key.get(), request.valid_days,
                       {{NID_basic_constraints, "critical,CA:FALSE"},
                        {NID_key_usage, "critical,digitalSignature"},
                        {NID_ext_key_usage, "serverAuth"},
                        {NID_subject_alt_name, "IP:127.0.0.1,IP:::1,DNS:localhost"}});
  if (!server) {
    return server.status();
  }
  for (Status written : {write_certificate(files.server_certificate, server->get()),
                         write_key(files.server_key, server_key->get())}) {
    if (!written) {
      return written;
    }
  }

  for (const std::string& id : request.provider_ids) {
    auto key = new_key();
    if (!key) {
      return key.status();
    }
    auto client = make_certificate(key->get(), id, ca.get(), ca_key.get(), request.valid_days,
                                   {{NID_basic_constraints, "critical,CA:FALSE"},
                                    {NID_key_usage, "critical,digitalSignature"},
                                    {NID_ext_key_usage, "clientAuth"}});
    if (!client) {
      return client.status();
    }
    const fs::path cert_path = dir / (id + ".pem");
    const fs::path key_path = dir / (id + "-key.pem");
    for (Status written :
         {write_certificate(cert_path, client->get()), write_key(key_path, key->get())}) {
      if (!written) {
        return written;
      }
    }
    files.client_certificates.push_back(cert_path.string());
    files.client_keys.push_back(key_path.string());
  }
  return files;
}

}  // namespace relaygw::gateway::server
