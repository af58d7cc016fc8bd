#include <coronet/http/client_error.hpp>

#include <string>

namespace coronet::http {

namespace {

class client_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "coronet.http.client"; }
  std::string message(int ev) const override {
    switch (static_cast<client_errc>(ev)) {
      case client_errc::invalid_url: return "invalid URL";
      case client_errc::unsupported_scheme: return "unsupported URL scheme (only http:// is supported)";
      case client_errc::dns_failure: return "host name did not resolve";
      case client_errc::connection_refused: return "connection refused";
      case client_errc::connect_failed: return "connect failed";
      case client_errc::connect_timeout: return "connect timed out";
      case client_errc::timeout: return "request timed out";
      case client_errc::connection_closed: return "connection closed before the response ended";
      case client_errc::protocol_error: return "malformed HTTP response";
      case client_errc::response_too_large: return "response too large";
      case client_errc::too_many_redirects: return "too many redirects";
      case client_errc::cancelled: return "request cancelled";
    }
    return "unknown client error";
  }
};

}  // namespace

const std::error_category& client_category() noexcept {
  static const client_error_category category;  // stateless: shared safely by every client
  return category;
}

}  // namespace coronet::http
