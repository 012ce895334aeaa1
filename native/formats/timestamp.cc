#include "formats/timestamp.h"

#include <cstdint>

namespace msb {
namespace {

bool Digits(std::string_view s, size_t pos, size_t count, int* out) {
  if (pos + count > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + count; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

}  // namespace

std::optional<double> ParseTimestampMs(std::string_view s) {
  std::optional<Timestamp> t = ParseTimestamp(s);
  if (!t) return std::nullopt;
  return t->ms;
}

std::optional<Timestamp> ParseTimestamp(std::string_view s) {
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, &year) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, &month) || s[7] != '-' ||
      !Digits(s, 8, 2, &day) || (s[10] != ' ' && s[10] != 'T' && s[10] != 't') || !Digits(s, 11, 2, &hour) ||
      s[13] != ':' || !Digits(s, 14, 2, &minute) || s[16] != ':' || !Digits(s, 17, 2, &second)) {
    return std::nullopt;
  }
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1) return std::nullopt;
  int monthDays = kDays[month - 1] + (month == 2 && IsLeap(year) ? 1 : 0);
  if (day > monthDays || hour > 23 || minute > 59 || second > 59) return std::nullopt;

  size_t i = 19;
  int millis = 0;
  int32_t subMsNanos = 0;
  if (i < s.size() && s[i] == '.') {
    i++;
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (i - start < 3) millis = millis * 10 + (s[i] - '0');
      else if (i - start < 9) subMsNanos = subMsNanos * 10 + (s[i] - '0');
      i++;
    }
    size_t n = i - start;
    if (n == 0 || n > 9) return std::nullopt;
    for (size_t k = n; k < 3; k++) millis *= 10;
    for (size_t k = n < 3 ? 3 : n; k < 9; k++) subMsNanos *= 10;
  }
  int offsetMinutes = 0;
  if (i < s.size()) {
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == s.size()) {
      i++;
    } else if (s[i] == '+' || s[i] == '-') {
      int oh, om;
      if (!Digits(s, i + 1, 2, &oh) || i + 3 >= s.size() || s[i + 3] != ':' || !Digits(s, i + 4, 2, &om) ||
          i + 6 != s.size() || oh > 23 || om > 59) {
        return std::nullopt;
      }
      offsetMinutes = (s[i] == '+' ? 1 : -1) * (oh * 60 + om);
      i += 6;
    } else {
      return std::nullopt;
    }
  }
  if (i != s.size()) return std::nullopt;
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - int64_t(offsetMinutes) * 60;
  return Timestamp{static_cast<double>(secs * 1000 + millis), subMsNanos};
}

}  // namespace msb
