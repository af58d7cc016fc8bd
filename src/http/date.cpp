#include "date.hpp"

#include <cstdio>
#include <time.h>

namespace coronet::http::detail {

std::string_view date_cache::now() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  if (ts.tv_sec != second_) {
    second_ = ts.tv_sec;
    std::tm tm{};
    ::gmtime_r(&second_, &tm);
    // Formatted by hand: strftime's names follow the process locale, HTTP's are English.
    static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const int n = std::snprintf(text_, sizeof text_, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                                days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
                                tm.tm_hour, tm.tm_min, tm.tm_sec);
    size_ = n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  return {text_, size_};
}

}  // namespace coronet::http::detail
