#include <coronet/http/body_writer.hpp>
#include <coronet/http/message.hpp>

#include <algorithm>
#include <cstdint>

namespace coronet::http {

std::string_view reason_phrase(unsigned code) noexcept {
  switch (code) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

namespace {

// The storage of destroyed field lists, per thread, for the next lists made (a response per
// request: its vector and its Content-Type value would otherwise be two allocations and two
// frees per request).
struct kept_fields {
  static constexpr std::size_t max_lists = 16;
  static constexpr std::size_t max_fields = 16;
  static constexpr std::size_t max_bytes = 1024;
  std::vector<std::vector<fields::field>> lists;
};

// One trivially destructible thread-local pointer on the hot path (one TLS access, no guard):
// null until the thread first keeps a list, `gone` once its kept lists are freed at thread
// exit (a list destroyed after that frees its storage).
thread_local kept_fields* kept = nullptr;
constexpr std::uintptr_t gone = 1;  // kept's value once the thread's lists are freed
bool kept_is_gone() noexcept { return reinterpret_cast<std::uintptr_t>(kept) == gone; }

// Frees the thread's kept lists when the thread ends.
struct kept_owner {
  kept_fields lists;
  ~kept_owner() { kept = reinterpret_cast<kept_fields*>(gone); }
};

kept_fields* kept_lists() {
  if (kept) return kept;
  thread_local kept_owner owner;  // made on first use only
  owner.lists.lists.reserve(kept_fields::max_lists);
  return kept = &owner.lists;
}

}  // namespace

void fields::keep() noexcept {
  const auto capacity = fields_.capacity();
  if (capacity > kept_fields::max_fields || kept_is_gone()) return;
  std::size_t bytes = 0;
  for (const auto& f : fields_) bytes += f.name.capacity() + f.value.capacity();
  if (bytes > kept_fields::max_bytes) return;
  auto& lists = kept_lists()->lists;
  if (lists.size() >= kept_fields::max_lists) return;
  lists.push_back(std::move(fields_));  // within the reserved capacity: no allocation
}

void fields::reserve(std::size_t n) {
  if (fields_.capacity() == 0 && kept != nullptr && !kept_is_gone() && !kept->lists.empty()) {
    fields_ = std::move(kept->lists.back());
    kept->lists.pop_back();
    used_ = 0;
  }
  fields_.reserve(n);
}

fields::field& fields::grow() {
  fields_.emplace_back();
  ++used_;
  return fields_.back();
}

void fields::add(std::string_view name, std::string_view value) {
  auto& f = append();  // built in place: no temporary field to move in and destroy
  try {
    f.name.assign(name);
    f.value.assign(value);
  } catch (...) {
    --used_;
    throw;
  }
}

void fields::set(std::string_view name, std::string_view value) {
  const auto first = fields_.begin();
  const auto last = first + static_cast<std::ptrdiff_t>(used_);
  const auto it = std::find_if(first, last, [&](const field& f) { return iequals(f.name, name); });
  if (it == last) {
    add(name, value);
    return;
  }
  it->value.assign(value);
  // Later fields of the name go past the end, where their strings wait for reuse.
  const auto kept = std::remove_if(std::next(it), last, [&](const field& f) { return iequals(f.name, name); });
  used_ = static_cast<std::size_t>(kept - first);
}

std::size_t fields::erase(std::string_view name) {
  const auto first = fields_.begin();
  const auto last = first + static_cast<std::ptrdiff_t>(used_);
  const auto kept = std::remove_if(first, last, [&](const field& f) { return iequals(f.name, name); });
  const auto removed = static_cast<std::size_t>(last - kept);
  used_ -= removed;
  return removed;
}

std::optional<std::string_view> fields::get(std::string_view name) const noexcept {
  for (const auto& f : *this) {
    if (iequals(f.name, name)) return std::string_view(f.value);
  }
  return std::nullopt;
}

std::string_view request::param(std::string_view name) const noexcept {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return {};
}

void request::clear() noexcept {
  method.clear();
  target.clear();
  version = 11;
  headers.clear();
  body.clear();
  params.clear();
}

namespace {

response with_type(std::string body, std::string_view type, status s) {
  response r;
  r.status = s;
  r.headers.reserve(4);  // a handler or hook adding a few fields does not reallocate
  r.headers.add("Content-Type", type);
  r.body = std::move(body);
  return r;
}

}  // namespace

response response::text(std::string body, http::status s) {
  return with_type(std::move(body), "text/plain; charset=utf-8", s);
}

response response::json(std::string body, http::status s) {
  return with_type(std::move(body), "application/json", s);
}

response response::bytes(std::string body, std::string_view content_type, http::status s) {
  return with_type(std::move(body), content_type, s);
}

response response::empty(http::status s) {
  response r;
  r.status = s;
  return r;
}

response response::streamed(body_producer producer, std::string_view content_type, http::status s,
                            stream_head head) {
  response r = with_type({}, content_type, s);
  r.stream = std::move(producer);
  r.head = head;
  return r;
}

}  // namespace coronet::http
