#include "parser.hpp"

#include <array>

namespace coronet::http::detail {

namespace {

// Returning this from on_headers_complete tells llhttp that no body follows.
constexpr int skip_body = 1;

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

template <bool IsRequest>
basic_parser<IsRequest>& self(llhttp_t* p) {
  return *static_cast<basic_parser<IsRequest>*>(p->data);
}

}  // namespace

http::status status_for(parse_error e) noexcept {
  switch (e) {
    case parse_error::head_too_large: return http::status::request_header_fields_too_large;
    case parse_error::body_too_large: return http::status::payload_too_large;
    case parse_error::malformed:
    case parse_error::closed_early: break;
  }
  return http::status::bad_request;
}

client_errc errc_for(parse_error e) noexcept {
  switch (e) {
    case parse_error::head_too_large:
    case parse_error::body_too_large: return client_errc::response_too_large;
    case parse_error::closed_early: return client_errc::connection_closed;
    case parse_error::malformed: break;
  }
  return client_errc::protocol_error;
}

template <bool IsRequest>
const llhttp_settings_t basic_parser<IsRequest>::settings_ = [] {
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_message_begin = &on_message_begin;
  if constexpr (IsRequest) s.on_url = &on_url;
  s.on_header_field = &on_header_field;
  s.on_header_value = &on_header_value;
  s.on_headers_complete = &on_headers_complete;
  s.on_body = &on_body;
  s.on_message_complete = &on_message_complete;
  s.on_chunk_extension_name = &on_chunk_extension;
  s.on_chunk_extension_value = &on_chunk_extension;
  return s;
}();

template <bool IsRequest>
basic_parser<IsRequest>::basic_parser(parse_limits limits) : limits_(limits) {
  reset();
}

template <bool IsRequest>
void basic_parser<IsRequest>::reset() noexcept {
  llhttp_init(&parser_, IsRequest ? HTTP_REQUEST : HTTP_RESPONSE, &settings_);
  parser_.data = this;
  if constexpr (IsRequest) {
    message_.clear();
  } else {
    message_.status = http::status::ok;
    message_.headers.clear();
    message_.body.clear();
  }
  validator_.reset();
  head_bytes_ = 0;
  trailer_bytes_ = 0;
  version_ = 11;
  in_message_ = false;
  in_head_ = true;
  started_ = false;
  done_ = false;
  last_was_value_ = false;
  keep_alive_ = false;
  callback_failed_ = false;
  error_ = parse_error::malformed;
  error_reason_ = {};
}

template <bool IsRequest>
void basic_parser<IsRequest>::start(bool head_request, bool limit_body) noexcept
  requires(!IsRequest)
{
  reset();
  head_request_ = head_request;
  limit_body_ = limit_body;
}

template <bool IsRequest>
bool basic_parser<IsRequest>::has_body() const noexcept {
  if (chunked() || parser_.content_length > 0) return true;
  // A response with neither framing runs until the peer closes.
  if constexpr (!IsRequest) return (parser_.flags & F_CONTENT_LENGTH) == 0;
  return false;
}

template <bool IsRequest>
auto basic_parser<IsRequest>::fail(parse_error e, std::string_view why, std::size_t consumed) -> result {
  error_ = e;
  error_reason_ = why;
  return {event::error, consumed};
}

template <bool IsRequest>
int basic_parser<IsRequest>::reject(parse_error e, std::string_view why) {
  error_ = e;
  error_reason_ = why;
  callback_failed_ = true;
  return HPE_USER;
}

template <bool IsRequest>
auto basic_parser<IsRequest>::feed(std::string_view data) -> result {
  if (done_) return {event::message_done, 0};
  // llhttp wants a valid pointer even for no bytes.
  static constexpr char nothing = 0;
  if (data.empty()) data = std::string_view(&nothing, 0);
  started_ = started_ || !data.empty();
  const bool was_in_head = in_head_;
  paused_for_ = event::need_more;
  const auto err = llhttp_execute(&parser_, data.data(), data.size());

  std::size_t consumed = data.size();
  if (err == HPE_PAUSED) {
    consumed = static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - data.data());
    llhttp_resume(&parser_);
  }

  // The head is measured (and, for requests, checked) as its bytes arrive, before anyone
  // acts on it. A feed that started in the head stopped at its end or at the message's.
  if (was_in_head) {
    const auto head_part = data.substr(0, consumed);
    head_bytes_ += head_part.size();
    if constexpr (IsRequest) {
      if (!validator_.feed(head_part)) return fail(parse_error::malformed, validator_.reason(), consumed);
    }
    if (head_bytes_ > limits_.max_header_bytes) {
      return fail(parse_error::head_too_large,
                  IsRequest ? "request head too large" : "response head too large", consumed);
    }
  }
  if (paused_for_ == event::message_done) {  // the next head starts fresh
    validator_.reset();
    head_bytes_ = 0;
  }

  if (err == HPE_OK || err == HPE_PAUSED) return {paused_for_, consumed};
  if (callback_failed_) return {event::error, consumed};  // error and reason already set
  return fail(parse_error::malformed, llhttp_get_error_reason(&parser_), consumed);
}

template <bool IsRequest>
auto basic_parser<IsRequest>::finish() -> result
  requires(!IsRequest)
{
  if (done_) return {event::message_done, 0};
  if (!started_) return fail(parse_error::closed_early, "connection closed before the response", 0);
  llhttp_finish(&parser_);
  if (done_) return {event::message_done, 0};  // a close-delimited body ended
  if (callback_failed_) return {event::error, 0};
  return fail(parse_error::closed_early, "connection closed inside the response", 0);
}

template <bool IsRequest>
int basic_parser<IsRequest>::on_message_begin(llhttp_t* p) {
  auto& s = self<IsRequest>(p);
  if constexpr (IsRequest) {
    s.message_.clear();
  } else {
    s.message_.headers.clear();
    s.message_.body.clear();
  }
  s.trailer_bytes_ = 0;
  s.in_message_ = true;
  s.last_was_value_ = false;
  return 0;
}

template <bool IsRequest>
int basic_parser<IsRequest>::on_url(llhttp_t* p, const char* at, std::size_t n) {
  if constexpr (IsRequest) self<IsRequest>(p).message_.target.append(at, n);
  return 0;
}

template <bool IsRequest>
bool basic_parser<IsRequest>::count_trailer(std::size_t n) {
  trailer_bytes_ += n;
  if (trailer_bytes_ <= limits_.max_header_bytes) return true;
  reject(parse_error::head_too_large, IsRequest ? "request trailers or chunk extensions too large"
                                               : "response trailers or chunk extensions too large");
  return false;
}

template <bool IsRequest>
int basic_parser<IsRequest>::on_chunk_extension(llhttp_t* p, const char*, std::size_t n) {
  return self<IsRequest>(p).count_trailer(n) ? 0 : HPE_USER;
}

template <bool IsRequest>
int basic_parser<IsRequest>::on_header_field(llhttp_t* p, const char* at, std::size_t n) {
  auto& s = self<IsRequest>(p);
  if (!s.in_head_) return s.count_trailer(n) ? 0 : HPE_USER;
  auto& fields = s.message_.headers;
  if (s.last_was_value_ || fields.empty()) {
    fields.append();
    s.last_was_value_ = false;
  }
  fields.last().name.append(at, n);
  return 0;
}

template <bool IsRequest>
int basic_parser<IsRequest>::on_header_value(llhttp_t* p, const char* at, std::size_t n) {
  auto& s = self<IsRequest>(p);
  if (!s.in_head_) return s.count_trailer(n) ? 0 : HPE_USER;
  auto& fields = s.message_.headers;
  if (fields.empty()) return HPE_USER;
  fields.last().value.append(at, n);
  s.last_was_value_ = true;
  return 0;
}

// What a head must satisfy beyond llhttp's grammar; 0 when it does.
template <bool IsRequest>
int basic_parser<IsRequest>::check_head(llhttp_t* p) {
  // No HTTP/0.9; 2.0 is never sent this way.
  if (p->http_major != 1) return reject(parse_error::malformed, "unsupported HTTP version");
  if constexpr (IsRequest) {
    // RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one in HTTP/1.0.
    std::size_t hosts = 0;
    for (const auto& f : message_.headers) hosts += iequals(f.name, "host") ? 1 : 0;
    if (hosts > 1) return reject(parse_error::malformed, "more than one Host header");
    if (hosts == 0 && p->http_minor >= 1) return reject(parse_error::malformed, "missing Host header");
  } else {
    const unsigned code = p->status_code;
    // llhttp reads three digits; 0xx is not a status.
    if (code < 100 || code > 999) return reject(parse_error::malformed, "invalid status code");
    // The client never asks to switch protocols.
    if (code == 101) return reject(parse_error::malformed, "unexpected 101 Switching Protocols");
  }
  return 0;
}

template <bool IsRequest>
int basic_parser<IsRequest>::on_headers_complete(llhttp_t* p) {
  auto& s = self<IsRequest>(p);
  if (const int rc = s.check_head(p)) return rc;
  if constexpr (IsRequest) {
    s.message_.method.assign(method_name(p->method));
  } else {
    const unsigned code = p->status_code;
    s.message_.status = static_cast<http::status>(code);
    if (code < 200) return skip_body;  // interim: skipped when it completes
  }
  s.version_ = p->http_major * 10 + p->http_minor;
  if constexpr (IsRequest) s.message_.version = s.version_;
  s.in_head_ = false;
  if constexpr (!IsRequest) {
    // RFC 9110 6.4.1: no body after HEAD, 204 or 304, whatever Content-Length says.
    const unsigned code = p->status_code;
    if (s.head_request_ || code == 204 || code == 304) return skip_body;
  }
  // Only a head that a body follows pauses; a bodiless message completes in the same call.
  if (!s.has_body()) return 0;
  s.paused_for_ = event::head_done;
  return HPE_PAUSED;
}

template <bool IsRequest>
int basic_parser<IsRequest>::on_body(llhttp_t* p, const char* at, std::size_t n) {
  auto& s = self<IsRequest>(p);
  if (s.limit_body_ && s.message_.body.size() + n > s.limits_.max_body_bytes) {
    return s.reject(parse_error::body_too_large, IsRequest ? "request body too large" : "response body too large");
  }
  s.message_.body.append(at, n);
  return 0;
}

template <bool IsRequest>
int basic_parser<IsRequest>::on_message_complete(llhttp_t* p) {
  auto& s = self<IsRequest>(p);
  if constexpr (!IsRequest) {
    if (s.in_head_) {  // an interim 1xx answer: wait for the final one
      s.message_.headers.clear();
      return 0;
    }
    s.done_ = true;
  } else {
    s.in_head_ = true;
  }
  s.keep_alive_ = llhttp_should_keep_alive(p) != 0;
  s.in_message_ = false;
  s.paused_for_ = event::message_done;
  return HPE_PAUSED;
}

template class basic_parser<true>;
template class basic_parser<false>;

}  // namespace coronet::http::detail
