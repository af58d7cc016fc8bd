#include "request_parser.hpp"

#include <array>

namespace coronet::http::detail {

namespace {

request_parser& self(llhttp_t* p) { return *static_cast<request_parser*>(p->data); }

// Method names with their lengths, so assigning one does not measure a C string.
std::string_view method_name(std::uint8_t method) {
  static const auto names = [] {
    std::array<std::string_view, 256> t{};
#define CORONET_METHOD_NAME(num, name, text) t[num] = #text;
    HTTP_ALL_METHOD_MAP(CORONET_METHOD_NAME)
#undef CORONET_METHOD_NAME
    return t;
  }();
  return names[method];
}

llhttp_settings_t make_settings() {
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  return s;
}

}  // namespace

const llhttp_settings_t request_parser::settings_ = [] {
  auto s = make_settings();
  s.on_message_begin = &request_parser::on_message_begin;
  s.on_url = &request_parser::on_url;
  s.on_header_field = &request_parser::on_header_field;
  s.on_header_value = &request_parser::on_header_value;
  s.on_headers_complete = &request_parser::on_headers_complete;
  s.on_body = &request_parser::on_body;
  s.on_message_complete = &request_parser::on_message_complete;
  return s;
}();

request_parser::request_parser(parse_limits limits) : limits_(limits) {
  llhttp_init(&parser_, HTTP_REQUEST, &settings_);
  parser_.data = this;
}

void request_parser::reset() noexcept {
  llhttp_init(&parser_, HTTP_REQUEST, &settings_);
  parser_.data = this;
  request_.clear();
  validator_.reset();
  head_bytes_ = 0;
  in_message_ = false;
  in_head_ = true;
  last_was_value_ = false;
  keep_alive_ = false;
  callback_failed_ = false;
}

bool request_parser::has_body() const noexcept {
  return (parser_.flags & F_CHUNKED) != 0 || parser_.content_length > 0;
}

request_parser::result request_parser::fail(http::status s, std::string_view why,
                                             std::size_t consumed) {
  error_status_ = s;
  error_reason_ = why;
  return {event::error, consumed};
}

request_parser::result request_parser::feed(std::string_view data) {
  // llhttp wants a valid pointer even for no bytes.
  static constexpr char nothing = 0;
  if (data.empty()) data = std::string_view(&nothing, 0);
  const bool was_in_head = in_head_;
  paused_for_ = event::need_more;
  const auto err = llhttp_execute(&parser_, data.data(), data.size());

  std::size_t consumed = data.size();
  if (err == HPE_PAUSED) {
    consumed = static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - data.data());
    llhttp_resume(&parser_);
  }

  // The head is checked as bytes arrive, before the server acts on it.
  if (was_in_head) {
    const auto head_part = data.substr(0, consumed);
    head_bytes_ += head_part.size();
    if (!validator_.feed(head_part)) return fail(http::status::bad_request, validator_.reason(), consumed);
    if (head_bytes_ > limits_.max_header_bytes) {
      return fail(http::status::request_header_fields_too_large, "request head too large", consumed);
    }
  }
  if (paused_for_ == event::message_done) {  // the next head starts fresh
    validator_.reset();
    head_bytes_ = 0;
  }

  if (err == HPE_OK || err == HPE_PAUSED) return {paused_for_, consumed};
  if (callback_failed_) return {event::error, consumed};  // status and reason already set
  error_status_ = http::status::bad_request;
  error_reason_ = llhttp_get_error_reason(&parser_);
  return {event::error, consumed};
}

int request_parser::on_message_begin(llhttp_t* p) {
  auto& s = self(p);
  s.request_.clear();
  s.trailer_bytes_ = 0;
  s.in_message_ = true;
  s.last_was_value_ = false;
  return 0;
}

int request_parser::on_url(llhttp_t* p, const char* at, std::size_t n) {
  self(p).request_.target.append(at, n);
  return 0;
}

// Trailer fields (after a chunked body) are counted against the head limit and dropped:
// merged into the headers they would let a body smuggle in fields (a second Host) that the
// head never had.
int request_parser::on_trailer(std::size_t n) {
  trailer_bytes_ += n;
  if (trailer_bytes_ <= limits_.max_header_bytes) return 0;
  error_status_ = http::status::request_header_fields_too_large;
  error_reason_ = "request trailers too large";
  callback_failed_ = true;
  return HPE_USER;
}

int request_parser::on_header_field(llhttp_t* p, const char* at, std::size_t n) {
  auto& s = self(p);
  if (!s.in_head_) return s.on_trailer(n);
  auto& fields = s.request_.headers.storage();
  if (s.last_was_value_ || fields.empty()) {
    fields.emplace_back();
    s.last_was_value_ = false;
  }
  fields.back().name.append(at, n);
  return 0;
}

int request_parser::on_header_value(llhttp_t* p, const char* at, std::size_t n) {
  auto& s = self(p);
  if (!s.in_head_) return s.on_trailer(n);
  auto& fields = s.request_.headers.storage();
  if (fields.empty()) return -1;
  fields.back().value.append(at, n);
  s.last_was_value_ = true;
  return 0;
}

int request_parser::on_headers_complete(llhttp_t* p) {
  auto& s = self(p);
  if (p->http_major != 1) {
    s.error_status_ = http::status::bad_request;  // no HTTP/0.9; 2.0 is never sent this way
    s.error_reason_ = "unsupported HTTP version";
    s.callback_failed_ = true;
    return -1;
  }
  // RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one in HTTP/1.0; else 400.
  std::size_t hosts = 0;
  for (const auto& f : s.request_.headers) hosts += iequals(f.name, "host") ? 1 : 0;
  if (hosts > 1 || (hosts == 0 && p->http_minor >= 1)) {
    s.error_status_ = http::status::bad_request;
    s.error_reason_ = hosts > 1 ? "more than one Host header" : "missing Host header";
    s.callback_failed_ = true;
    return -1;
  }
  s.request_.version = p->http_major * 10 + p->http_minor;
  s.request_.method.assign(method_name(p->method));
  s.in_head_ = false;
  // Only a head with a body pauses: the server decides whether to read it. A bodiless
  // request completes in the same call.
  if (!s.has_body()) return 0;
  s.paused_for_ = event::head_done;
  return HPE_PAUSED;
}

int request_parser::on_body(llhttp_t* p, const char* at, std::size_t n) {
  auto& s = self(p);
  if (s.request_.body.size() + n > s.limits_.max_body_bytes) {
    s.error_status_ = http::status::payload_too_large;
    s.error_reason_ = "request body too large";
    s.callback_failed_ = true;
    return HPE_USER;
  }
  s.request_.body.append(at, n);
  return 0;
}

int request_parser::on_message_complete(llhttp_t* p) {
  auto& s = self(p);
  s.keep_alive_ = llhttp_should_keep_alive(p) != 0;
  s.in_message_ = false;
  s.in_head_ = true;
  s.paused_for_ = event::message_done;
  return HPE_PAUSED;
}

}  // namespace coronet::http::detail
