#include "response_parser.hpp"

namespace coronet::http::detail {

namespace {

response_parser& self(llhttp_t* p) { return *static_cast<response_parser*>(p->data); }

// Returning this from on_headers_complete tells llhttp that no body follows.
constexpr int skip_body = 1;

}  // namespace

const llhttp_settings_t response_parser::settings_ = [] {
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_message_begin = &response_parser::on_message_begin;
  s.on_header_field = &response_parser::on_header_field;
  s.on_header_value = &response_parser::on_header_value;
  s.on_headers_complete = &response_parser::on_headers_complete;
  s.on_body = &response_parser::on_body;
  s.on_message_complete = &response_parser::on_message_complete;
  return s;
}();

response_parser::response_parser(response_limits limits) : limits_(limits) { start(false); }

void response_parser::start(bool head_request, bool limit_body) {
  llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
  parser_.data = this;
  response_.status = http::status::ok;
  response_.headers.clear();
  response_.body.clear();
  head_bytes_ = 0;
  version_ = 11;
  head_request_ = head_request;
  limit_body_ = limit_body;
  started_ = false;
  in_head_ = true;
  head_done_ = false;
  last_was_value_ = false;
  keep_alive_ = false;
  done_ = false;
  callback_failed_ = false;
  error_ = client_errc::protocol_error;
  error_reason_ = {};
}

response_parser::result response_parser::fail(client_errc e, std::string_view why,
                                               std::size_t consumed) {
  error_ = e;
  error_reason_ = why;
  return {event::error, consumed};
}

response_parser::result response_parser::feed(std::string_view data) {
  if (done_) return {event::message_done, 0};
  if (data.empty()) return {event::need_more, 0};
  started_ = true;
  const auto err = llhttp_execute(&parser_, data.data(), data.size());
  if (err == HPE_OK) return {event::need_more, data.size()};
  if (err == HPE_PAUSED && done_) {
    return {event::message_done, static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - data.data())};
  }
  if (callback_failed_) return {event::error, 0};  // error_ and reason already set
  return fail(client_errc::protocol_error, llhttp_get_error_reason(&parser_), 0);
}

response_parser::result response_parser::finish() {
  if (done_) return {event::message_done, 0};
  if (!started_) return fail(client_errc::connection_closed, "connection closed before the response", 0);
  const auto err = llhttp_finish(&parser_);
  if (done_) return {event::message_done, 0};  // a close-delimited body ended
  if (callback_failed_) return {event::error, 0};
  (void)err;
  return fail(client_errc::connection_closed, "connection closed inside the response", 0);
}

int response_parser::on_message_begin(llhttp_t* p) {
  auto& s = self(p);
  s.response_.headers.clear();
  s.response_.body.clear();
  s.last_was_value_ = false;
  return 0;
}

// Header and trailer fields alike count against max_header_bytes.
bool response_parser::count_head(std::size_t n) {
  head_bytes_ += n;
  if (head_bytes_ <= limits_.max_header_bytes) return true;
  error_ = client_errc::response_too_large;
  error_reason_ = "response head too large";
  callback_failed_ = true;
  return false;
}

int response_parser::on_header_field(llhttp_t* p, const char* at, std::size_t n) {
  auto& s = self(p);
  if (!s.count_head(n)) return HPE_USER;
  if (s.head_done_) return 0;  // a trailer field: dropped
  auto& fields = s.response_.headers.storage();
  if (s.last_was_value_ || fields.empty()) {
    fields.emplace_back();
    s.last_was_value_ = false;
  }
  fields.back().name.append(at, n);
  return 0;
}

int response_parser::on_header_value(llhttp_t* p, const char* at, std::size_t n) {
  auto& s = self(p);
  if (!s.count_head(n)) return HPE_USER;
  if (s.head_done_) return 0;
  auto& fields = s.response_.headers.storage();
  if (fields.empty()) return HPE_USER;
  fields.back().value.append(at, n);
  s.last_was_value_ = true;
  return 0;
}

int response_parser::on_headers_complete(llhttp_t* p) {
  auto& s = self(p);
  if (p->http_major != 1) {
    s.error_ = client_errc::protocol_error;
    s.error_reason_ = "unsupported HTTP version";
    s.callback_failed_ = true;
    return HPE_USER;
  }
  const unsigned code = p->status_code;
  if (code < 100 || code > 999) {  // llhttp reads three digits; 0xx is not a status
    s.error_ = client_errc::protocol_error;
    s.error_reason_ = "invalid status code";
    s.callback_failed_ = true;
    return HPE_USER;
  }
  if (code == 101) {  // the client never asks to switch protocols
    s.error_ = client_errc::protocol_error;
    s.error_reason_ = "unexpected 101 Switching Protocols";
    s.callback_failed_ = true;
    return HPE_USER;
  }
  s.response_.status = static_cast<http::status>(code);
  if (code < 200) return skip_body;  // interim: its message ends here, skipped on completion
  s.version_ = p->http_major * 10 + p->http_minor;
  s.head_done_ = true;
  s.in_head_ = false;
  // RFC 9110 6.4.1: no body after HEAD, 204 or 304, whatever Content-Length says.
  if (s.head_request_ || code == 204 || code == 304) return skip_body;
  return 0;
}

int response_parser::on_body(llhttp_t* p, const char* at, std::size_t n) {
  auto& s = self(p);
  if (s.limit_body_ && s.response_.body.size() + n > s.limits_.max_body_bytes) {
    s.error_ = client_errc::response_too_large;
    s.error_reason_ = "response body too large";
    s.callback_failed_ = true;
    return HPE_USER;
  }
  s.response_.body.append(at, n);
  return 0;
}

int response_parser::on_message_complete(llhttp_t* p) {
  auto& s = self(p);
  if (!s.head_done_) {  // an interim 1xx response: wait for the final one
    s.response_.headers.clear();
    return 0;
  }
  s.keep_alive_ = llhttp_should_keep_alive(p) != 0;
  s.done_ = true;
  return HPE_PAUSED;
}

}  // namespace coronet::http::detail
