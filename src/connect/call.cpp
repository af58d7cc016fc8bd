// The pieces of a Connect or gRPC-Web call that do not depend on its protocol (call.hpp).
#include "call.hpp"

#include <coronet/detail/asio.hpp>

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <string_view>
#include <variant>

namespace coronet::connect::detail {

namespace {

bool is_protocol_header(std::string_view k) {
  static constexpr std::string_view exact[] = {
      "content-type", "content-length", "content-encoding", "accept-encoding", "connection",
      "keep-alive", "te", "transfer-encoding", "host", "x-grpc-web", "x-user-agent"};
  for (auto e : exact) {
    if (k == e) return true;
  }
  return k.starts_with("connect-") || k.starts_with("grpc-");
}

bool ends_with_bin(std::string_view k) { return k.ends_with("-bin"); }

}  // namespace

std::string http_call_context::lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

const std::vector<std::pair<std::string, std::string>>& http_call_context::entries() const {
  if (!entries_) {
    auto& all = entries_.emplace();
    for (const auto& f : *headers_) {
      auto key = lower(f.name);
      if (is_protocol_header(key)) continue;
      if (ends_with_bin(key)) {
        // A value that is not base64 is passed on as sent rather than dropped.
        auto decoded = base64_decode(f.value);
        all.emplace_back(std::move(key), decoded ? std::move(*decoded) : f.value);
      } else {
        all.emplace_back(std::move(key), f.value);
      }
    }
  }
  return *entries_;
}

std::optional<std::string_view> http_call_context::metadata(std::string_view key) const {
  for (const auto& [k, v] : entries()) {
    if (k.size() == key.size() &&
        std::equal(k.begin(), k.end(), key.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        })) {
      return std::string_view(v);
    }
  }
  return std::nullopt;
}

std::vector<std::pair<std::string_view, std::string_view>> http_call_context::all_metadata()
    const {
  std::vector<std::pair<std::string_view, std::string_view>> all;
  for (const auto& [k, v] : entries()) all.emplace_back(k, v);
  return all;
}

std::string http_call_context::peer() const {
  const auto a = remote_.address();
  if (a.is_v6()) return "ipv6:[" + a.to_string() + "]:" + std::to_string(remote_.port());
  return "ipv4:" + a.to_string() + ":" + std::to_string(remote_.port());
}

asio::awaitable<grpc::Status> run_bounded(std::function<asio::awaitable<grpc::Status>()> start,
                                          http_call_context& ctx,
                                          std::optional<std::chrono::nanoseconds> timeout) {
  using namespace asio::experimental::awaitable_operators;
  try {
    if (!timeout) co_return co_await start();
    if (*timeout <= std::chrono::nanoseconds::zero()) {
      ctx.cancel();
      co_return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline exceeded");
    }
    asio::steady_timer timer(co_await asio::this_coro::executor, *timeout);
    // The loser is cancelled and awaited: the handler's frame is gone when this returns.
    auto first = co_await (start() || timer.async_wait(asio::use_awaitable));
    if (first.index() == 0) co_return std::get<0>(std::move(first));
    ctx.cancel();
    co_return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline exceeded");
  } catch (...) {
    co_return handler_failure();
  }
}

grpc::Status handler_failure() noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    return grpc::Status(grpc::StatusCode::UNKNOWN, e.what());
  } catch (...) {
    return grpc::Status(grpc::StatusCode::UNKNOWN, "handler failed");
  }
}

std::chrono::system_clock::time_point deadline_of(std::optional<std::chrono::nanoseconds> t) {
  if (!t) return std::chrono::system_clock::time_point::max();
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(*t);
}

std::optional<std::string> decode(codec c, std::string_view bytes, message& m) {
  if (c == codec::proto) {
    if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return "cannot unmarshal " + m.GetTypeName() + " from protobuf";
    }
    return std::nullopt;
  }
  if (message_from_json(bytes, m)) return std::nullopt;
  m.Clear();  // what the direct path filled in before it gave up
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(bytes.data(), bytes.size()), &m, options);
  if (!status.ok()) {
    return "cannot unmarshal " + m.GetTypeName() + " from JSON: " +
           std::string(status.message());
  }
  return std::nullopt;
}

std::string encode(codec c, const message& m) {
  std::string out;
  if (c == codec::proto) {
    m.SerializeToString(&out);
  } else if (!message_to_json(m, out)) {
    out.clear();
    (void)google::protobuf::util::MessageToJsonString(m, &out);
  }
  return out;
}

std::string media_type(std::string_view content_type, bool& charset_ok) {
  charset_ok = true;
  const auto semi = content_type.find(';');
  auto type = content_type.substr(0, semi);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  std::string out(type);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (semi != std::string_view::npos) {
    std::string params(content_type.substr(semi + 1));
    for (auto& ch : params) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    params.erase(std::remove_if(params.begin(), params.end(),
                                [](char ch) { return ch == ' ' || ch == '"'; }),
                 params.end());
    const auto at = params.find("charset=");
    if (at != std::string::npos) {
      auto value = std::string_view(params).substr(at + 8);
      value = value.substr(0, value.find(';'));
      charset_ok = value == "utf-8" || value == "utf8";
    }
  }
  return out;
}

std::string_view media_type(std::string_view content_type, bool& charset_ok,
                            std::string& storage) {
  const bool bare = std::none_of(content_type.begin(), content_type.end(), [](char c) {
    return c == ';' || c == ' ' || c == '\t' || (c >= 'A' && c <= 'Z');
  });
  if (bare) {
    charset_ok = true;
    return content_type;
  }
  storage = media_type(content_type, charset_ok);
  return storage;
}

bool accepts_gzip(std::string_view list) noexcept {
  while (!list.empty()) {
    const auto comma = list.find(',');
    auto item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    item = item.substr(0, item.find(';'));
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.size() == 4 && std::equal(item.begin(), item.end(), "gzip", [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      return true;
    }
  }
  return false;
}

void add_metadata_headers(http::fields& out, const metadata_list& entries,
                          std::string_view prefix, bool pad) {
  for (const auto& [k, v] : entries) {
    std::string name(prefix);
    name += k;
    out.add(name, ends_with_bin(k) ? base64_encode(v, pad) : v);
  }
}

void add_cors_headers(const mount_state& s, const http::request& req, http::response& res) {
  if (s.options.allowed_origins.empty()) return;
  const auto origin = req.headers.get("origin");
  if (!origin) return;
  const auto& allowed = s.options.allowed_origins;
  const bool any = std::find(allowed.begin(), allowed.end(), "*") != allowed.end();
  if (!any && std::find(allowed.begin(), allowed.end(), *origin) == allowed.end()) return;
  res.headers.set("Access-Control-Allow-Origin", any ? std::string_view("*") : *origin);
  if (!any) res.headers.add("Vary", "Origin");
  res.headers.set("Access-Control-Expose-Headers", s.exposed);
}

std::string exposed_headers(const server_options& options) {
  std::string out =
      "Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin, Content-Encoding, "
      "Connect-Content-Encoding, Content-Type";
  for (const auto& name : options.exposed_headers) {
    // An HTTP token (RFC 9110 5.6.2): anything else would break the field, or inject one.
    const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) ||
             std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    });
    if (!token) {
      throw std::invalid_argument("coronet::connect::mount: exposed_headers: not a header name: \"" +
                                  name + "\"");
    }
    out += ", ";
    out += name;
  }
  return out;
}

}  // namespace coronet::connect::detail
