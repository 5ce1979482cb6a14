// Development and test certificates for the relay provider TLS link, made with the OpenSSL 3
// API: a test CA, a server certificate for 127.0.0.1, ::1 and localhost, and one client
// certificate per relay provider whose subject CN is the provider id. They are for loopback
// tests and the demo only; a production gateway uses certificates from the center's own CA.
#pragma once

#include <string>
#include <vector>

#include "common/status.hpp"

namespace relaygw::gateway::server {

struct DevCertificateRequest {
  std::string out_dir;                    // created when missing
  std::vector<std::string> provider_ids;  // one client certificate each
  int valid_days = 365;
};

// Paths of the PEM files written; keys are written with mode 0600.
struct DevCertificateFiles {
  std::string ca_certificate;      // out_dir/ca.pem
  std::string ca_key;              // out_dir/ca-key.pem
  std::string server_certificate;  // out_dir/server.pem
  std::string server_key;          // out_dir/server-key.pem
  // Per provider, in request order: out_dir/<id>.pem and out_dir/<id>-key.pem.
  std::vector<std::string> client_certificates;
  std::vector<std::string> client_keys;
};

// Writes the CA (reusing ca.pem and ca-key.pem when both exist in out_dir, so providers can be
// added later), then a new server certificate and one client certificate per provider id.
// Fails with InvalidArgument for a provider id outside 1 to 64 characters of letters, digits
// and "-_.", with Internal naming the OpenSSL error, and with Unavailable naming the file and
// the system's reason when a file cannot be written. Each file is written under a temporary
// name and renamed, so a failed write leaves no partial PEM file.
Result<DevCertificateFiles> generate_dev_certificates(const DevCertificateRequest& request);

// Checks that `id` can be a provider id: 1 to 64 characters of letters, digits, '-', '_' and
// '.'. The provider listener applies the same rule to a client certificate's CN.
bool is_valid_provider_id(const std::string& id);

}  // namespace relaygw::gateway::server
